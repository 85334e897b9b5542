"""What a command talks to, said before it does anything.

Every command line (``python -m services.<svc> ...``, ``python -m services.ops``, the token
command) prints one line on standard error before it connects or writes: the Kafka bootstrap
servers, security protocol and principal, and the database as ``host:port/db as role`` (never a
password). A target that is a default because the environment did not set it says so; in
production such a default is refused by the settings themselves (``CommonSettings``), so the
note is only ever seen in development and tests.

``load_settings`` builds a command's settings and turns a refusal into one readable line and
exit code 2 instead of a traceback (whose input dump could show a URL with its password).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypedDict, TypeVar, Unpack

from pydantic import ValidationError

from services.common.database import database_label, database_user
from services.common.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def variable(settings: CommonSettings, field: str) -> str:
    """The environment variable a settings field is read from, e.g. ``IIZ_DATABASE_URL``."""
    prefix = settings.model_config.get("env_prefix") or ""
    return f"{prefix}{field}".upper()


def _unset_note(settings: CommonSettings, field: str) -> str:
    if field in settings.model_fields_set:
        return ""
    return f" ({variable(settings, field)} not set: using the development default)"


def database_target(url: str) -> str:
    """``host:port/db as role`` of a URL; never its password."""
    user = database_user(url)
    return f"{database_label(url)} as {user or '(no role named)'}"


def kafka_description(settings: CommonSettings) -> str:
    """``Kafka <servers>, <protocol> as <principal>`` with the unset-variable notes."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        principal = "no principal"
    else:
        principal = f"{settings.kafka_sasl_mechanism} as {settings.kafka_username}"
    return (
        f"Kafka {settings.kafka_bootstrap_servers}"
        f"{_unset_note(settings, 'kafka_bootstrap_servers')}"
        f", {protocol}{_unset_note(settings, 'kafka_security_protocol')}, {principal}"
    )


def database_description(settings: CommonSettings, *, owner: bool = False) -> str:
    """``PostgreSQL host:port/db as role`` of the service's URL, or of the schema owner's
    (migrations, rebuild), with the unset-variable notes."""
    note = _unset_note(settings, "database_url")
    if not owner:
        return f"PostgreSQL {database_target(settings.database_url)}{note}"
    if settings.migration_database_url is not None:
        return f"PostgreSQL {database_target(settings.migration_database_url)} (schema owner)"
    return (
        f"PostgreSQL {database_target(settings.database_url)}"
        f" ({variable(settings, 'migration_database_url')} not set: using"
        f" {variable(settings, 'database_url')}){note}"
    )


def health_address(settings: CommonSettings, default_port: int) -> str:
    """Where a worker serves /livez and /readyz (``IIZ_HEALTH_PORT`` 0: any free port)."""
    port = settings.health_port
    shown = str(default_port) if port is None else (str(port) if port else "any free port")
    return f"{settings.health_host}:{shown}"


def banner(
    command: str,
    settings: CommonSettings,
    *,
    kafka: bool = True,
    database: bool = True,
    owner: bool = False,
    schema: str | None = None,
    extra: str | None = None,
) -> str:
    """One line: ``<command>: Kafka ...; PostgreSQL ... [, schema s]; [owner ...]; [extra]``.

    ``database``: the service's own URL; ``owner``: the schema owner's (migrations).
    """
    parts: list[str] = []
    if kafka:
        parts.append(kafka_description(settings))
    if database:
        parts.append(database_description(settings))
    if owner:
        parts.append(database_description(settings, owner=True))
    if schema is not None and (database or owner):
        parts[-1] += f", schema {schema}"
    if extra:
        parts.append(extra)
    return f"{command}: {'; '.join(parts)}"


class BannerParts(TypedDict, total=False):
    """``banner``'s keyword options, for ``announce`` to pass on."""

    kafka: bool
    database: bool
    owner: bool
    schema: str | None
    extra: str | None


def announce(command: str, settings: CommonSettings, **parts: Unpack[BannerParts]) -> None:
    """Print the ``banner`` on standard error, before the command connects or writes."""
    print(banner(command, settings, **parts), file=sys.stderr, flush=True)


def _refusal(location: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in location)}: {message}" if location else message


def load_settings(factory: Callable[[], S], command: str) -> S:
    """The command's settings, or exit 2 with the refusal's messages (no input values)."""
    try:
        return factory()
    except ValidationError as error:
        messages = "; ".join(_refusal(e["loc"], e["msg"]) for e in error.errors())
        print(f"{command}: refused: {messages}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
