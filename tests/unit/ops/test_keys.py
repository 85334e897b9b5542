"""What ``ops keys status`` advises per key version, and how a delivery's bytes are re-keyed."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from schemas.ahv import AhvNumber
from services.common.document_seal import DocumentSeal
from services.common.identity_seal import IdentitySeal, key_id_of
from services.common.keyring import Keyring
from services.ops.keys import (
    KeyStatus,
    PlaceCount,
    retirement_advice,
)
from services.ops.keys_stores import (
    DOCUMENT,
    IDENTITY,
    PERSON,
    PSEUDONYM,
    Rotation,
    resealed,
    rewritten_value,
)
from tests.factories import valid_ahv

I1, I2 = Fernet.generate_key(), Fernet.generate_key()
AHV = AhvNumber(valid_ahv(5))


def rings() -> dict[str, Keyring]:
    return {
        PSEUDONYM: Keyring("k2", {"k2": b"b", "k1": b"a"}),
        IDENTITY: Keyring("i2", {"i2": I2, "i1": I1}),
        PERSON: Keyring("p2", {"p2": b"2" * 32, "p1": b"1" * 32}),
        DOCUMENT: Keyring("d2", {"d2": b"2" * 32, "d1": b"1" * 32}),
    }


def rotation(identity: Keyring) -> Rotation:
    r = rings()
    return Rotation(
        r[PSEUDONYM],
        r[PERSON],
        IdentitySeal(identity),
        DocumentSeal(r[DOCUMENT]),
        "coordination",
        "persons",
        "documents",
    )


def test_a_version_no_row_uses_can_be_retired_and_one_in_use_is_kept() -> None:
    status = KeyStatus(
        rings(),
        [
            PlaceCount(PSEUDONYM, "lookups", {"k2": 4}),
            PlaceCount(IDENTITY, "registry", {"i2": 4, "i1": 1}),
            PlaceCount(PERSON, "registry", {"p2": 4}),
            PlaceCount(DOCUMENT, "documents", {"d2": 1, "x9": 2}),
        ],
        legacy_subjects={},
    )

    advice = "\n".join(retirement_advice(status))

    assert status.retirable(PSEUDONYM) == ["k1"]
    assert status.retirable(IDENTITY) == []
    assert "identity i1: keep — 1 stored rows use it" in advice
    assert "person p1: no stored row uses it; retire it" in advice
    assert "IIZ_PERSON_PREVIOUS_KEYS" in advice
    assert "document x9: 2 rows in documents name a key this keyring does not hold" in advice


def test_an_identity_version_is_retired_only_after_the_topics_expired() -> None:
    status = KeyStatus(rings(), [PlaceCount(IDENTITY, "registry", {"i2": 4})], {})

    [line] = [a for a in retirement_advice(status) if a.startswith("identity")]

    assert "91 days have passed since i2 became current" in line  # 90 + the segment's day
    assert "one day of segment roll" in line
    assert "iiz.coordination.rejected.v1" in line


def test_the_identity_advice_says_later_deliveries_from_old_events_still_need_the_key() -> None:
    status = KeyStatus(rings(), [PlaceCount(IDENTITY, "registry", {"i2": 4})], {})

    [line] = [a for a in retirement_advice(status) if a.startswith("identity")]

    assert "nobody opens" not in line
    assert "canonical events keep their data.person.sealed_ahv under i1" in line.lower()
    assert "delivery created after the retirement from an event sealed under i1" in line
    assert "dead-lettered" in line


def test_legacy_subjects_keep_their_pseudonym_version() -> None:
    status = KeyStatus(rings(), [PlaceCount(PSEUDONYM, "lookups", {"k2": 4})], {"k1": 3})

    assert status.retirable(PSEUDONYM) == []
    assert any("3 legacy subjects (psn:k1:" in a for a in retirement_advice(status))


def test_a_delivery_is_rekeyed_in_place_with_every_other_byte_unchanged() -> None:
    old = IdentitySeal(Keyring("i1", {"i1": I1})).seal(AHV)
    value = json.dumps(
        {"person": {"case_ref": "RAV-1", "sealed_ahv": old}, "note": "Grüezi"},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    r = rotation(rings()[IDENTITY])

    new = rewritten_value(r, value, None)

    assert new is not None
    sealed = json.loads(new)["person"]["sealed_ahv"]
    assert key_id_of(sealed) == "i2"
    assert IdentitySeal(Keyring("i2", {"i2": I2})).unseal(sealed) == AHV
    assert new.replace(sealed.encode(), old.encode()) == value


def test_a_seal_under_a_retired_key_takes_the_registry_copy_or_stays() -> None:
    old = IdentitySeal(Keyring("i1", {"i1": I1})).seal(AHV)
    current = IdentitySeal(Keyring("i2", {"i2": I2})).seal(AHV)
    retired = rotation(Keyring("i2", {"i2": I2}))

    assert resealed(retired, old, current) == current
    assert resealed(retired, old, None) is None
    assert resealed(retired, old, old) is None, "a registry copy under an old key is no help"
