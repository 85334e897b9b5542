"""Who may do what on the real, secured broker: every principal x every topic.

Each institution of the registry and each service (the principals ``infra/local up`` made, with
the passwords in their files) tries to produce to and consume from every planned topic and the
broker's internal ones. The expected outcome of each cell comes from the ACL plan
(services/ops/acl_plan.py); for an institution exactly its own two cells succeed. The matrix is
written to test-artifacts/kafka-access-matrix.md.

How a cell is tried, without leaving records on the shared topics:
- produce: one record larger than the topic's limit. The broker checks authorisation first:
  TOPIC_AUTHORIZATION_FAILED means refused; MSG_SIZE_TOO_LARGE means the write was authorised and
  only then turned down for its size, so nothing is written (a real write would reach intake,
  coordination or a partner).
- consume: a consumer in a group under the principal's own prefix (a service: its own group)
  subscribes to every topic: a topic either reaches the end of a partition (a fetch succeeded:
  ``_PARTITION_EOF``) or reports TOPIC_AUTHORIZATION_FAILED. A second consumer, in a group
  outside the prefix, must be refused (GROUP_AUTHORIZATION_FAILED).
Outcomes are awaited (poll until every cell has one), with a deadline, never slept for.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from schemas.registry.institutions import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED, planned_topics
from services.ops.acl_plan import (
    Access,
    access_plan,
    acl_plan,
    group_prefix,
    may_consume,
    may_produce,
    summarise_topics,
    topic_families,
)
from services.ops.credentials import read_password
from services.ops.kafka_admin import admin_client, apply_acls, client_config
from services.ops.settings import OpsSettings
from tests.infra import Infra

REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "test-artifacts" / "kafka-access-matrix.md"
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")
OVERSIZED = 1_200_000  # above the brokers' max.message.bytes (1048588)
DEADLINE_SECONDS = 30.0
REFUSED, PRODUCED, READ = "refused", "authorised", "read"


@pytest.fixture(scope="module")
def secured(infra: Infra) -> OpsSettings:
    """The admin settings of the session's infra; the infra must be the secured broker."""
    assert infra.secured, (
        f"the access matrix needs the secured broker, but the session's Kafka ({infra.origin}) "
        "is PLAINTEXT; run the tests on `infra/local up` (SASL_SSL)"
    )
    return OpsSettings()


@pytest.fixture(scope="module")
def plan() -> list[Access]:
    return access_plan(load_institutions())


@pytest.fixture(scope="module")
def topics() -> list[str]:
    return [t.name for t in planned_topics()] + list(INTERNAL_TOPICS)


def principal_config(settings: OpsSettings, principal: str) -> dict[str, Any]:
    password = read_password(settings.credentials_dir, principal)
    assert password, (
        f"no password file for {principal} in {settings.credentials_dir}; `infra/local up` "
        "creates them (python -m services.ops kafka bootstrap)"
    )
    return {**client_config(settings), "sasl.username": principal, "sasl.password": password}


def quiet(errors: list[KafkaError]) -> Callable[[KafkaError], None]:
    """An error callback that keeps what librdkafka reports instead of logging it."""
    return errors.append


def try_produce(config: dict[str, Any], topics: list[str], **extra: Any) -> dict[str, str]:
    """Topic -> 'authorised' (the oversized record was turned down for its size only) or
    'refused' (TOPIC_AUTHORIZATION_FAILED) or another error's name."""
    errors: list[KafkaError] = []
    producer = Producer(
        {
            **config,
            "acks": "all",
            "linger.ms": 0,
            "message.max.bytes": 4 * OVERSIZED,
            "message.timeout.ms": int(DEADLINE_SECONDS * 1000),
            "error_cb": quiet(errors),
            "log_level": 3,
            **extra,
        }
    )
    outcome: dict[str, str] = {}

    def report(topic: str) -> Callable[[KafkaError | None, Any], None]:
        def done(error: KafkaError | None, _message: Any) -> None:
            if error is None:
                outcome[topic] = "WRITTEN"  # must never happen: the record is too large
            elif error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                outcome[topic] = PRODUCED
            elif error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                outcome[topic] = REFUSED
            else:
                outcome[topic] = error.name()

        return done

    payload = bytes(OVERSIZED)
    for topic in topics:
        try:
            producer.produce(topic, payload, callback=report(topic))
        except KafkaException as error:  # the topic's metadata already said: not authorised
            report(topic)(error.args[0], None)
        producer.poll(0)
    deadline = monotonic() + DEADLINE_SECONDS
    while len(outcome) < len(topics) and monotonic() < deadline:
        producer.poll(0.1)
    producer.flush(0)
    return outcome


def try_consume(
    config: dict[str, Any], topics: list[str], group: str
) -> tuple[dict[str, str], list[str]]:
    """Subscribe in ``group``; topic -> 'read' (a fetch reached a partition's end) or 'refused'
    (TOPIC_AUTHORIZATION_FAILED). A refused group gives {'*': 'refused'}. Also the errors."""
    errors: list[KafkaError] = []
    consumer = Consumer(
        {
            **config,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "latest",
            "error_cb": quiet(errors),
            "log_level": 3,
        }
    )
    outcome: dict[str, str] = {}
    seen: list[str] = []
    try:
        consumer.subscribe(topics)
        deadline = monotonic() + DEADLINE_SECONDS
        while len(outcome) < len(topics) and monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is None:
                continue  # a record that arrived meanwhile: reading works
            seen.append(error.name())
            if error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
                return {"*": REFUSED}, seen
            topic = message.topic()
            if topic is None:
                continue
            if error.code() == KafkaError._PARTITION_EOF:
                outcome.setdefault(topic, READ)
            elif error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                outcome[topic] = REFUSED
    finally:
        consumer.close()
    return outcome, seen


@dataclass
class Row:
    access: Access
    produced: dict[str, str]
    consumed: dict[str, str]
    outside_group: dict[str, str]
    outside_name: str
    seconds: float
    notes: list[str] = field(default_factory=list)


def own_group(access: Access, run: str) -> str:
    if access.group_prefixes:
        return f"{access.group_prefixes[0]}matrix-{run}"
    return access.groups[0]


def outside_group(access: Access, other: Access, run: str) -> str:
    """A group the principal may not use: another institution's prefix, or the plain name."""
    if access.kind == "institution":
        return f"{group_prefix(other.principal)}matrix-{run}"
    return f"matrix-{run}"


def probe_principal(
    settings: OpsSettings, access: Access, other: Access, topics: list[str], run: str
) -> Row:
    started = monotonic()
    config = principal_config(settings, access.principal)
    produced = try_produce(config, topics)
    consumed, _ = try_consume(config, topics, own_group(access, run))
    outside = outside_group(access, other, run)
    refused, _ = try_consume(config, topics, outside)
    return Row(access, produced, consumed, refused, outside, monotonic() - started)


@pytest.fixture(scope="module")
def matrix(secured: OpsSettings, plan: list[Access], topics: list[str]) -> list[Row]:
    run = uuid.uuid4().hex[:8]
    others = {
        a.principal: next(o for o in plan if o.kind == "institution" and o is not a) for a in plan
    }
    started = monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        rows = list(
            pool.map(lambda a: probe_principal(secured, a, others[a.principal], topics, run), plan)
        )
    write_artifact(rows, topics, monotonic() - started)
    return rows


def write_artifact(rows: list[Row], topics: list[str], seconds: float) -> None:
    lines = [
        "# Kafka access matrix (real broker, SASL_SSL + ACLs)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {len(rows)} principals x {len(topics)} "
        f"topics ({len(topics) - len(INTERNAL_TOPICS)} planned + the internal "
        f"{', '.join(INTERNAL_TOPICS)}), produce and consume each: {2 * len(rows) * len(topics)} "
        f"cells, plus a consumer group outside each principal's own; {seconds:.1f} s.",
        "",
        "| principal | produce authorised | consume succeeded (own group) | refused (produce / "
        "consume) | group outside its own |",
        "|---|---|---|---|---|",
    ]
    families = topic_families([r.access for r in rows])
    for row in rows:
        produced = [t for t, o in row.produced.items() if o == PRODUCED]
        consumed = [t for t, o in row.consumed.items() if o == READ]
        refused_p = sum(1 for o in row.produced.values() if o == REFUSED)
        refused_c = sum(1 for o in row.consumed.values() if o == REFUSED)
        outside = (
            "refused" if row.outside_group == {"*": REFUSED} else f"NOT refused {row.outside_group}"
        )
        lines.append(
            f"| `{row.access.principal}` | {summarise_topics(produced, families)} | "
            f"{summarise_topics(consumed, families)} | {refused_p} / {refused_c} | "
            f"`{row.outside_name}`: {outside} |"
        )
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_cell_of_the_matrix_is_what_the_plan_allows(
    matrix: list[Row], topics: list[str]
) -> None:
    rules = acl_plan(load_institutions())
    wrong = []
    for row in matrix:
        principal = row.access.principal
        group = own_group(row.access, "x")
        for topic in topics:
            want_produce = PRODUCED if may_produce(rules, principal, topic) else REFUSED
            want_consume = READ if may_consume(rules, principal, topic, group) else REFUSED
            if row.produced.get(topic) != want_produce:
                wrong.append(
                    f"{principal} produce {topic}: {row.produced.get(topic)}, not {want_produce}"
                )
            if row.consumed.get(topic) != want_consume:
                wrong.append(
                    f"{principal} consume {topic}: {row.consumed.get(topic)}, not {want_consume}"
                )
    assert wrong == []


def test_an_institution_succeeds_only_on_its_own_two_topics(matrix: list[Row]) -> None:
    for row in matrix:
        if row.access.kind != "institution":
            continue
        produced = {t for t, o in row.produced.items() if o == PRODUCED}
        consumed = {t for t, o in row.consumed.items() if o == READ}
        assert produced == set(row.access.produces), row.access.principal
        assert consumed == set(row.access.consumes), row.access.principal
        assert len(row.access.produces) == len(row.access.consumes) == 1


def test_a_group_outside_the_principals_own_is_refused(matrix: list[Row]) -> None:
    assert {r.access.principal: r.outside_group for r in matrix} == {
        r.access.principal: {"*": REFUSED} for r in matrix
    }


def test_each_service_is_refused_a_topic_it_does_not_use(
    matrix: list[Row], topics: list[str]
) -> None:
    for row in matrix:
        if row.access.kind != "service":
            continue
        unused = [
            t for t in topics if t not in row.access.produces and t not in row.access.consumes
        ]
        assert unused, row.access.principal
        assert all(row.produced[t] == REFUSED for t in unused), row.access.principal
        assert all(row.consumed[t] == REFUSED for t in unused), row.access.principal
        not_produced = [t for t in topics if t not in row.access.produces]
        assert all(row.produced[t] == REFUSED for t in not_produced), row.access.principal


def test_the_brokers_acls_are_exactly_the_plan(secured: OpsSettings, plan: list[Access]) -> None:
    change = apply_acls(
        admin_client(secured),
        acl_plan(load_institutions()),
        [a.principal for a in plan],
        dry_run=True,
    )
    assert (change.created, change.deleted) == ([], [])
    assert change.kept == len(acl_plan(load_institutions()))


def test_password_files_are_readable_by_their_owner_only(
    secured: OpsSettings, plan: list[Access]
) -> None:
    for access in plan:
        path = secured.credentials_dir / f"{access.principal}.password"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- refused connections -----------------------------------------------------------------------


def connection_errors(config: dict[str, Any]) -> tuple[bool, list[KafkaError]]:
    """(did a metadata request succeed?, the errors librdkafka reported). Waits for the first
    reported error (or the deadline), then asks for metadata once."""
    errors: list[KafkaError] = []
    admin = AdminClient({**config, "error_cb": quiet(errors), "log_level": 3})
    deadline = monotonic() + DEADLINE_SECONDS
    while not errors and monotonic() < deadline:
        admin.poll(0.05)
    try:
        admin.list_topics(timeout=1)
    except KafkaException:
        return False, errors
    return True, errors


def first_server(settings: OpsSettings) -> str:
    return settings.kafka_bootstrap_servers.split(",")[0]


def test_a_wrong_password_is_refused(secured: OpsSettings) -> None:
    config = {**principal_config(secured, "rav"), "sasl.password": "not-the-password"}
    ok, errors = connection_errors(config)
    assert not ok
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_an_unknown_user_is_refused(secured: OpsSettings) -> None:
    config = {**principal_config(secured, "rav"), "sasl.username": f"nobody-{uuid.uuid4().hex[:6]}"}
    ok, errors = connection_errors(config)
    assert not ok
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def the_port_serves_a_proper_client(secured: OpsSettings) -> bool:
    """A refusal means something only when the same port serves a client that logs in
    properly (a port that is down refuses everyone)."""
    admin = AdminClient({**principal_config(secured, "rav"), "log_level": 3})
    return bool(admin.list_topics(timeout=DEADLINE_SECONDS).brokers)


def test_tls_without_sasl_is_refused(secured: OpsSettings) -> None:
    """An anonymous client: TLS to the right port, trusting the CA, but no SASL login."""
    assert the_port_serves_a_proper_client(secured)
    config = {
        "bootstrap.servers": first_server(secured),
        "security.protocol": "ssl",
        "ssl.ca.location": str(secured.kafka_ca_file),
    }
    ok, errors = connection_errors(config)
    assert not ok
    assert errors, "librdkafka reported no error"


def test_plaintext_is_refused(secured: OpsSettings) -> None:
    assert the_port_serves_a_proper_client(secured)
    ok, errors = connection_errors(
        {"bootstrap.servers": first_server(secured), "security.protocol": "plaintext"}
    )
    assert not ok
    assert errors, "librdkafka reported no error"


def test_a_broker_not_signed_by_the_ca_is_not_trusted(secured: OpsSettings, tmp_path: Path) -> None:
    """The client side of TLS: trusting another CA, the client refuses the broker."""
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(self_signed_ca_pem())
    config = {**principal_config(secured, "rav"), "ssl.ca.location": str(other_ca)}
    ok, errors = connection_errors(config)
    assert not ok
    # the first report is _SSL or, as librdkafka words it at times, _TRANSPORT with the reason
    assert any(
        e.code() == KafkaError._SSL or "certificate verify failed" in e.str() for e in errors
    ), errors


def self_signed_ca_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the IIZ CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


# --- what each service needs ---------------------------------------------------------------------


def test_intake_can_run_its_transaction(secured: OpsSettings, plan: list[Access]) -> None:
    """Intake's transactional producer (iiz-intake-<door>-<instance>): init, write the log, a
    dead letter and a receipt, add the consumed offsets of its group, then abort (the records
    stay invisible to read_committed readers; the offsets are discarded)."""
    access = next(a for a in plan if a.principal == "service-intake")
    config = principal_config(secured, access.principal)
    errors: list[KafkaError] = []
    run = uuid.uuid4().hex[:8]
    consumer = Consumer(
        {
            **config,
            "group.id": access.groups[0],
            "enable.auto.commit": False,
            "error_cb": quiet(errors),
        }
    )
    producer = Producer(
        {
            **config,
            "transactional.id": f"iiz-intake-matrix-{run}",
            "transaction.timeout.ms": 20_000,
            "error_cb": quiet(errors),
        }
    )
    try:
        producer.init_transactions(DEADLINE_SECONDS)
        producer.begin_transaction()
        receipt_topic = next(t for t in access.produces if t.startswith("iiz.deliver."))
        for topic in (CASE_EVENTS, INTAKE_REJECTED, receipt_topic):
            producer.produce(topic, b"access-matrix probe (aborted)", key=run.encode())
        producer.flush(DEADLINE_SECONDS)
        intake_topic = access.consumes[0]
        producer.send_offsets_to_transaction(
            [TopicPartition(intake_topic, 0, 0)],
            consumer.consumer_group_metadata(),
            DEADLINE_SECONDS,
        )
        producer.abort_transaction(DEADLINE_SECONDS)
    finally:
        consumer.close()
    assert [e for e in errors if e.fatal()] == []


def test_intake_may_not_use_another_transactional_id(secured: OpsSettings) -> None:
    config = principal_config(secured, "service-intake")
    producer = Producer({**config, "transactional.id": f"iiz-coordination-{uuid.uuid4().hex[:6]}"})
    with pytest.raises(KafkaException) as refused:
        producer.init_transactions(DEADLINE_SECONDS)
    assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


@pytest.mark.parametrize(
    "service", ["service-intake", "service-coordination", "service-notifications"]
)
def test_a_service_joins_each_of_its_groups_and_reads_its_topics(
    secured: OpsSettings, plan: list[Access], service: str
) -> None:
    access = next(a for a in plan if a.principal == service)
    config = principal_config(secured, service)
    for group in access.groups:
        outcome, seen = try_consume(config, list(access.consumes), group)
        assert outcome == dict.fromkeys(access.consumes, READ), (group, seen)


@pytest.mark.parametrize("service", ["service-coordination", "service-notifications"])
def test_a_services_idempotent_producer_may_write_its_topics(
    secured: OpsSettings, plan: list[Access], service: str
) -> None:
    """Idempotence needs a producer id (InitProducerId): WRITE on a topic allows it since Kafka
    3.0. The oversized records prove the writes were authorised without writing anything."""
    access = next(a for a in plan if a.principal == service)
    outcome = try_produce(
        principal_config(secured, service), list(access.produces), **{"enable.idempotence": True}
    )
    assert outcome == dict.fromkeys(access.produces, PRODUCED)


def test_the_artifact_lists_every_principal(matrix: list[Row]) -> None:
    text = ARTIFACT.read_text(encoding="utf-8")
    assert all(f"`{row.access.principal}`" in text for row in matrix)
    assert os.path.getsize(ARTIFACT) > 0
