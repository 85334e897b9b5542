"""Settings of the operations commands (``python -m services.ops``): the shared ``IIZ_*`` ones
(they connect as admin) plus where the principals' passwords are kept."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from services.common.settings import CommonSettings
from services.ops.acl_plan import ServiceNames

REPO = Path(__file__).resolve().parents[2]
DEFAULT_NAMES = ServiceNames()


class OpsSettings(CommonSettings):
    uses_database: ClassVar[bool] = False  # Kafka only: no IIZ_DATABASE_URL needed

    kafka_credentials_dir: Path | None = Field(
        default=None,
        description="folder of the principals' password files (<principal>.password, 0600);"
        " default <IIZ_INFRA_HOME>/credentials/kafka, i.e. .infra/credentials/kafka",
    )
    infra_home: Path | None = Field(default=None, description="the local infra's state folder")
    ops_partner_bootstrap_servers: str | None = Field(
        default=None,
        description="the address partners are told to connect to (default: the bootstrap"
        " servers the command itself uses)",
    )
    # The services' group names, read from the same variables the services read.
    intake_group_id: str = Field(default=DEFAULT_NAMES.intake_group_id)
    coordination_group_id: str = Field(default=DEFAULT_NAMES.coordination_group_id)
    notifications_group_id: str = Field(default=DEFAULT_NAMES.notifications_group_id)

    @property
    def credentials_dir(self) -> Path:
        if self.kafka_credentials_dir is not None:
            return self.kafka_credentials_dir
        return (self.infra_home or REPO / ".infra") / "credentials" / "kafka"

    @property
    def service_names(self) -> ServiceNames:
        return ServiceNames(
            intake_group_id=self.intake_group_id,
            coordination_group_id=self.coordination_group_id,
            notifications_group_id=self.notifications_group_id,
        )

    @property
    def partner_bootstrap_servers(self) -> str:
        return self.ops_partner_bootstrap_servers or self.kafka_bootstrap_servers
