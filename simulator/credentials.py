"""Who the simulated partners and the demo's services are on Kafka.

On a secured broker (SASL_SSL) every process connects as its own principal: each simulated
institution as the principal named by its id (it may write its intake topic and read its delivery
topic, with consumer groups under ``<id>.``), each service as ``service-<name>``. Their passwords
are the files ``<principal>.password`` that ``infra/local up`` (or ``python -m services.ops ...
credentials``) writes into ``<state>/credentials/kafka``; where that folder is comes from
``IIZ_SIMULATOR_CREDENTIALS_DIR``, else from beside the CA file the settings name
(``<state>/tls/ca.pem``), else from ``IIZ_INFRA_HOME`` (default ``.infra``).

On a PLAINTEXT broker (a development broker without ACLs) everything connects as it is.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import CommonSettings
from services.ops.credentials import password_file, read_password

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra" / "local"
SERVICE_PRINCIPALS = {
    "intake": "service-intake",
    "coordination": "service-coordination",
    "notifications": "service-notifications",
}

S = TypeVar("S", bound=CommonSettings)
PartnerSettings = Callable[[str], CommonSettings]


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IIZ_SIMULATOR_", frozen=True, extra="ignore")

    credentials_dir: Path | None = Field(
        default=None,
        description="folder of the Kafka principals' <principal>.password files; unset: "
        "<state>/credentials/kafka of the infra/local instance (beside the CA file's tls/)",
    )


def credentials_folder(settings: CommonSettings) -> Path:
    """Where the principals' password files are (see the module's documentation)."""
    configured = SimulatorSettings().credentials_dir
    if configured is not None:
        return configured
    if settings.kafka_ca_file is not None:
        beside = settings.kafka_ca_file.resolve().parent.parent / "credentials" / "kafka"
        if beside.is_dir():
            return beside
    state = Path(os.environ.get("IIZ_INFRA_HOME") or REPO / ".infra")
    return state / "credentials" / "kafka"


def password_of(principal: str, folder: Path) -> SecretStr:
    secret = read_password(folder, principal)  # None when the file is missing or empty
    if secret is None:
        raise SystemExit(
            f"no Kafka password for {principal!r} in {folder} (expected "
            f"{password_file(folder, principal).name}, not empty); "
            "`infra/local up` creates them, or set IIZ_SIMULATOR_CREDENTIALS_DIR"
        )
    return SecretStr(secret)


def as_principal(settings: S, principal: str, folder: Path | None = None) -> S:
    """``settings`` connecting as ``principal``; unchanged on a PLAINTEXT broker."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return settings
    password = password_of(principal, folder or credentials_folder(settings))
    return settings.model_copy(update={"kafka_username": principal, "kafka_password": password})


def principal_environment(
    settings: CommonSettings, principal: str, folder: Path | None = None
) -> dict[str, str]:
    """The ``IIZ_KAFKA_USERNAME``/``IIZ_KAFKA_PASSWORD`` of a process that runs as
    ``principal`` (nothing on a PLAINTEXT broker)."""
    chosen = as_principal(settings, principal, folder)
    if chosen.kafka_password is None or chosen.kafka_username is None:
        return {}
    return {
        "IIZ_KAFKA_USERNAME": chosen.kafka_username,
        "IIZ_KAFKA_PASSWORD": chosen.kafka_password.get_secret_value(),
    }


def partner_settings(settings: CommonSettings, folder: Path | None = None) -> PartnerSettings:
    """Each institution's own connection (on a PLAINTEXT broker: ``settings`` for all)."""
    found: dict[str, CommonSettings] = {}

    def of(institution: str) -> CommonSettings:
        if institution not in found:
            found[institution] = as_principal(settings, institution, folder)
        return found[institution]

    return of


def parse_exports(text: str) -> dict[str, str]:
    """``export NAME=value`` lines (as ``infra/local env`` prints them), values unquoted."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name.isidentifier():
            values[name] = shlex.split(value)[0] if value.strip() else ""
    return values


def local_environment(
    principal: str | None = None, env: dict[str, str] | None = None
) -> dict[str, str]:
    """``infra/local env [PRINCIPAL]`` of the instance that ``env`` (IIZ_INFRA_HOME, ports; default:
    this process's environment) points at: the IIZ_* variables to connect with."""
    done = subprocess.run(  # noqa: S603 - the project's own script
        [str(INFRA), "env", *([principal] if principal else [])],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`infra/local env {principal or ''}` failed: {done.stderr[-2000:]}")
    return parse_exports(done.stdout)
