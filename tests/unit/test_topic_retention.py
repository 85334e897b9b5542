"""The retention plan of the topics: finite retention comes with closing segments, every topic that
carries a person is bounded, and existing topics are brought to the plan without losing their other
settings."""

from __future__ import annotations

from schemas.topics import AUDIT_CHECKPOINTS, CASE_EVENTS, SEGMENT_MS, planned_topics
from tests.topic_plan import create_topics

DAY_MS = 24 * 3600 * 1000
KEPT_FOREVER = {CASE_EVENTS, AUDIT_CHECKPOINTS}  # crypto-shredded / no person data


def test_every_topic_but_the_canonical_log_and_checkpoints_has_a_bounded_life() -> None:
    for plan in planned_topics():
        if plan.name in KEPT_FOREVER:
            assert plan.retention_ms == -1
            assert plan.configs == {}
            assert plan.longest_life_ms is None
        else:
            assert 0 < plan.retention_ms <= 90 * DAY_MS, plan.name
            assert plan.configs == {"segment.ms": str(SEGMENT_MS)}, plan.name
            assert plan.longest_life_ms == plan.retention_ms + DAY_MS


def test_the_script_plans_retention_and_segments_from_the_registry() -> None:
    script = create_topics()
    specs = {s.name: s for s in script.planned_topics()}

    assert script.retention_plan(specs["iiz.deliveries.v1"]) == {
        "retention.ms": str(30 * DAY_MS),
        "segment.ms": str(DAY_MS),
    }
    assert script.retention_plan(specs[CASE_EVENTS]) == {"retention.ms": "-1"}


def test_an_existing_topic_off_plan_is_altered_with_its_other_settings_kept() -> None:
    script = create_topics()
    spec = script.TopicSpec("t", 1, 30 * DAY_MS, {"segment.ms": str(DAY_MS)})
    dynamic = {"t": {"min.insync.replicas": "2", "retention.ms": "-1"}}

    assert script.retention_changes([spec], dynamic) == {
        "t": {
            "min.insync.replicas": "2",
            "retention.ms": str(30 * DAY_MS),
            "segment.ms": str(DAY_MS),
        }
    }


def test_a_topic_on_plan_or_not_yet_there_is_not_altered() -> None:
    script = create_topics()
    spec = script.TopicSpec("t", 1, 30 * DAY_MS, {"segment.ms": str(DAY_MS)})
    on_plan = {"t": {"retention.ms": str(30 * DAY_MS), "segment.ms": str(DAY_MS)}}

    assert script.retention_changes([spec], on_plan) == {}
    assert script.retention_changes([spec], {}) == {}
