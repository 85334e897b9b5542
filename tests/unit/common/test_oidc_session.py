"""The signed-in session: what it holds, and when it ends (idle timeout, absolute lifetime)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from services.common import oidc_sign_in as oidc

TIMES = oidc.SessionTimes(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=10))
WHO = {"user": "anna", "institution": "rav", "role": "coordinator"}


def signed_in(since_ago: float, seen_ago: float) -> dict[str, Any]:
    session: dict[str, Any] = {"_state_iiz-seiten_abc": {"data": {}}}
    oidc.begin(session, WHO, "id-token")
    now = time.time()
    session[oidc.SESSION_KEY].update(since=now - since_ago, seen=now - seen_ago)
    return session


def test_a_new_session_holds_only_who_the_id_token_and_its_times() -> None:
    session: dict[str, Any] = {"_state_iiz-seiten_abc": {"data": {"code_verifier": "x"}}}

    oidc.begin(session, WHO, "id-token")

    assert list(session) == [oidc.SESSION_KEY]  # the sign-in's state is gone
    assert set(session[oidc.SESSION_KEY]) == {"who", "id_token", "since", "seen"}
    assert oidc.current(session, TIMES) == WHO


def test_a_session_unused_longer_than_the_idle_timeout_ends() -> None:
    session = signed_in(since_ago=3600, seen_ago=31 * 60)

    assert oidc.current(session, TIMES) is None
    assert session == {}


def test_a_session_in_use_ends_after_its_absolute_lifetime() -> None:
    session = signed_in(since_ago=10 * 3600 + 1, seen_ago=1)

    assert oidc.current(session, TIMES) is None
    assert session == {}


def test_using_a_session_moves_its_last_use_forward() -> None:
    session = signed_in(since_ago=3600, seen_ago=20 * 60)

    assert oidc.current(session, TIMES) == WHO
    assert time.time() - session[oidc.SESSION_KEY]["seen"] < 5


def test_ending_a_session_empties_it_and_hands_back_the_id_token_for_the_provider() -> None:
    session = signed_in(since_ago=60, seen_ago=60)

    assert oidc.end(session) == "id-token"
    assert session == {}
    assert oidc.end(session) is None


def test_a_session_with_damaged_times_counts_as_signed_out() -> None:
    session = signed_in(since_ago=60, seen_ago=60)
    session[oidc.SESSION_KEY]["since"] = "yesterday"

    assert oidc.current(session, TIMES) is None
