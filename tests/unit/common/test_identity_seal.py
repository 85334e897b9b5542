"""AHV numbers are sealed under the current identity key and open under any key the keyring
still holds; a retired or unknown key id is refused without naming any content."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from schemas.ahv import AhvNumber
from services.common.identity_seal import IdentitySeal, IdentitySealError, key_id_of
from services.common.keyring import Keyring
from services.common.settings import CommonSettings
from tests.factories import valid_ahv

I1 = Fernet.generate_key()
I2 = Fernet.generate_key()
AHV = AhvNumber(valid_ahv(17))


def seal_of(current: str, **keys: bytes) -> IdentitySeal:
    return IdentitySeal(Keyring(current, keys))


def test_new_seals_use_the_current_key_id_and_hide_the_number() -> None:
    seal = seal_of("i2", i2=I2, i1=I1)

    sealed = seal.seal(AHV)

    assert key_id_of(sealed) == "i2" == seal.key_id
    assert AHV.digits not in sealed
    assert seal.unseal(sealed) == AHV


def test_what_was_sealed_under_a_previous_key_still_opens() -> None:
    old = seal_of("i1", i1=I1).seal(AHV)

    assert seal_of("i2", i2=I2, i1=I1).unseal(old) == AHV


def test_a_retired_or_unknown_key_id_is_refused_without_naming_content() -> None:
    old = seal_of("i1", i1=I1).seal(AHV)

    with pytest.raises(IdentitySealError, match="'i1', which this keyring does not hold") as e:
        seal_of("i2", i2=I2).unseal(old)
    assert AHV.digits not in str(e.value)
    assert old.partition(":")[2] not in str(e.value)


def test_a_sealed_form_without_a_key_id_is_refused_without_echoing_it() -> None:
    for junk in (AHV.formatted(), AHV.digits, "", ":token", "TOOLONGID9:x"):
        with pytest.raises(IdentitySealError) as refused:
            seal_of("i1", i1=I1).unseal(junk)
        assert "756" not in str(refused.value)


def test_a_token_under_the_right_id_but_another_key_is_refused() -> None:
    foreign = seal_of("i1", i1=Fernet.generate_key()).seal(AHV)

    with pytest.raises(IdentitySealError, match="invalid or was tampered"):
        seal_of("i1", i1=I1).unseal(foreign)


def test_rekey_moves_a_seal_to_the_current_key_and_leaves_a_current_one_alone() -> None:
    rotated = seal_of("i2", i2=I2, i1=I1)
    old = seal_of("i1", i1=I1).seal(AHV)

    moved = rotated.rekey(old)

    assert key_id_of(moved) == "i2"
    assert rotated.rekey(moved) is moved
    assert seal_of("i2", i2=I2).unseal(moved) == AHV


def test_sealed_bytes_open_under_the_key_id_stored_beside_them() -> None:
    old = seal_of("i1", i1=I1)
    letter, named = old.seal_bytes(b"a dead letter"), old.key_id
    rotated = seal_of("i2", i2=I2, i1=I1)

    assert rotated.unseal_bytes(letter, named) == b"a dead letter"
    assert rotated.unseal_bytes(rotated.seal_bytes(b"new"), rotated.key_id) == b"new"
    with pytest.raises(IdentitySealError, match="does not hold"):
        seal_of("i2", i2=I2).unseal_bytes(letter, named)
    with pytest.raises(IdentitySealError, match="invalid"):
        rotated.unseal_bytes(letter, "i2")


def test_the_settings_keyring_holds_the_previous_identity_keys() -> None:
    old = CommonSettings(environment="test")
    new = CommonSettings(
        environment="test",
        identity_key=SecretStr(I2.decode()),
        identity_key_id="i2",
        identity_previous_keys={"i1": old.identity_key},
    )
    sealed = IdentitySeal.from_settings(old).seal(AHV)

    assert IdentitySeal.from_settings(new).unseal(sealed) == AHV
    assert key_id_of(IdentitySeal.from_settings(new).seal(AHV)) == "i2"
