"""What varies between persons on the same path, and the steps every path shares (consents)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from schemas.events import ConsentGranted, ConsentRevoked
from schemas.vocabulary import DataCategory
from simulator.script import ScriptWriter

CASE_ADMIN = DataCategory.CASE_ADMIN


@dataclass(frozen=True)
class Traits:
    """A person's variant: what the consent covers and how the story turns."""

    municipality: str  # the social service of the person's municipality (sozialhilfe-<BFS>)
    parallel: bool  # offers run side by side (else one after the other, with a gap)
    health: bool  # the consent names `health`
    identity: bool  # the consent names `identity` (the AHV number may be delivered)
    revoke: bool  # the person revokes the consent later on
    decline: bool  # the invited institution declines the referral
    close: bool  # the case is closed at the end
    night_edge: bool  # the consent is valid from the next day; a nightly batch follows
    expiring: bool  # the consent runs out while the case goes on
    gap_days: int  # sequential paths: days between one institution's end and the next start


def consent_categories(traits: Traits, *base: DataCategory) -> list[DataCategory]:
    categories = [CASE_ADMIN, *base]
    if traits.identity:
        categories.append(DataCategory.IDENTITY)
    if traits.health:
        categories.append(DataCategory.HEALTH)
    return categories


def grant_consent(
    w: ScriptWriter,
    holder: str,
    institutions: list[str],
    categories: list[DataCategory],
    traits: Traits,
) -> uuid.UUID:
    """The holder of the signed form records the consent (Einwilligung / Vollmacht). When it
    names health or identity, every other institution it names confirms it (each holds the
    person's AHV number and may hold health data, which leave it only under a consent it
    vouches for): most within the hour, some only after a few more steps of the case."""
    valid_from, valid_until = w.today, w.today + dt.timedelta(days=365)
    if traits.night_edge:
        afternoon = w.clock.replace(hour=16, minute=40)
        w.clock = afternoon if afternoon > w.clock else afternoon + dt.timedelta(days=1)
        valid_from = w.today + dt.timedelta(days=1)
        w.tags.add("consent-from-tomorrow")
    if traits.expiring:
        valid_until = w.today + dt.timedelta(days=w.rng.randrange(12, 25))
        w.tags.add("consent-expires")
    if DataCategory.HEALTH not in categories:
        w.tags.add("consent-without-health")
    if DataCategory.IDENTITY in categories:
        w.tags.add("consent-with-identity")
    consent_id = w.uuid()
    w.send(
        holder,
        ConsentGranted,
        after=dt.timedelta(minutes=w.rng.randrange(5, 50)),
        consent_id=consent_id,
        institutions=sorted(set(institutions)),
        categories=categories,
        valid_from=valid_from,
        valid_until=valid_until,
        document_ref=f"EINW-{w.case_ref(holder)}",
    )
    confirm_by_the_others(w, holder, institutions, categories, consent_id)
    if traits.night_edge:
        w.at_night()
    return consent_id


def confirm_by_the_others(
    w: ScriptWriter,
    holder: str,
    institutions: list[str],
    categories: list[DataCategory],
    consent_id: uuid.UUID,
) -> None:
    """When the consent names health or identity, every other institution it names confirms it
    (each holds the person's AHV number and may hold health data, which leave it only under a
    consent it vouches for): most within the hour, some only after a few more steps."""
    if {DataCategory.HEALTH, DataCategory.IDENTITY} & set(categories):
        for institution in sorted(set(institutions) - {holder}):
            after_sends = 0 if w.rng.random() < 0.6 else w.rng.randrange(1, 5)
            w.confirm_later(institution, consent_id, after_sends=after_sends)
        w.send_due_confirmations()


def revoke_consent(w: ScriptWriter, holder: str, consent_id: uuid.UUID) -> None:
    w.tags.add("revoked")
    w.drop_confirmations(consent_id)  # nobody confirms a consent that is being revoked
    reference = f"WIDERRUF-{w.case_ref(holder)}"
    w.send(holder, ConsentRevoked, consent_id=consent_id, document_ref=reference)


def after_leaving(w: ScriptWriter) -> dt.timedelta:
    """When the next event comes after an institution stopped taking part: well within the
    grace period (30 days by default), just inside or just outside it, or long after."""
    grace = dt.timedelta(days=30)
    return w.rng.choice(
        (
            dt.timedelta(days=6),
            grace - dt.timedelta(hours=2),
            grace + dt.timedelta(hours=2),
            1.5 * grace,
        )
    )
