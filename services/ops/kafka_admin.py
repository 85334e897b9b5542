"""Credentials and ACLs on the broker, through confluent-kafka's AdminClient (aiokafka's admin
client has no SCRAM or ACL calls). Connects as the settings' principal: admin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from services.common.settings import CommonSettings
from services.ops.acl_plan import AclRule, Operation, Pattern, Resource

REQUEST_TIMEOUT_SECONDS = 30.0
SCRAM_ITERATIONS = 8192
ANY_HOST = "*"
_ANY_NAME: Any = None  # a filter's "any name/principal/host" (the stubs say str)

_RESOURCES = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
}
_PATTERNS = {
    Pattern.LITERAL: ResourcePatternType.LITERAL,
    Pattern.PREFIXED: ResourcePatternType.PREFIXED,
}
_OPERATIONS = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
}
_MECHANISMS = {
    "SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512,
    "SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256,
}


def client_config(settings: CommonSettings) -> dict[str, Any]:
    """librdkafka properties for the settings' connection (also used by the access tests)."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {**config, "security.protocol": "plaintext"}
    if not settings.kafka_username or settings.kafka_password is None:
        raise ValueError("SASL_SSL needs IIZ_KAFKA_USERNAME and IIZ_KAFKA_PASSWORD")
    config.update(
        {
            "security.protocol": "sasl_ssl",
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_username,
            "sasl.password": settings.kafka_password.get_secret_value(),
            "ssl.endpoint.identification.algorithm": "https",
        }
    )
    if settings.kafka_ca_file is not None:
        config["ssl.ca.location"] = str(settings.kafka_ca_file)
    return config


def admin_client(settings: CommonSettings) -> AdminClient:
    return AdminClient({**client_config(settings), "log_level": 4})


def binding(rule: AclRule) -> AclBinding:
    return AclBinding(
        _RESOURCES[rule.resource],
        rule.name,
        _PATTERNS[rule.pattern],
        f"User:{rule.principal}",
        ANY_HOST,
        _OPERATIONS[rule.operation],
        AclPermissionType.ALLOW,
    )


def _label(value: object) -> str:
    """An enum member's name (the stubs also allow str and int)."""
    return str(getattr(value, "name", value))


def _key(b: AclBinding) -> tuple[str, ...]:
    return (
        _label(b.restype),
        b.name,
        _label(b.resource_pattern_type),
        b.principal,
        b.host,
        _label(b.operation),
        _label(b.permission_type),
    )


def describe_binding(b: AclBinding) -> str:
    """``User:rav WRITE TOPIC LITERAL iiz.intake.rav.v1``"""
    return " ".join(
        [
            b.principal,
            _label(b.operation),
            _label(b.restype),
            _label(b.resource_pattern_type),
            b.name,
        ]
    )


def scram_users(admin: AdminClient) -> set[str]:
    """The users that have a SCRAM credential on the cluster."""
    future = admin.describe_user_scram_credentials(request_timeout=REQUEST_TIMEOUT_SECONDS)
    assert not isinstance(future, dict)
    try:
        described = future.result()
    except KafkaException as error:
        # RESOURCE_NOT_FOUND when no user has a credential yet
        if error.args and getattr(error.args[0], "code", lambda: None)() == 91:
            return set()
        raise
    return {user for user, description in described.items() if description.scram_credential_infos}


def upsert_scram(admin: AdminClient, user: str, password: str, mechanism: str) -> None:
    """Create or replace the user's SCRAM credential."""
    info = ScramCredentialInfo(_MECHANISMS[mechanism], SCRAM_ITERATIONS)
    upsertion = UserScramCredentialUpsertion(user, info, password.encode())
    futures = admin.alter_user_scram_credentials(
        [upsertion], request_timeout=REQUEST_TIMEOUT_SECONDS
    )
    for future in futures.values():
        future.result()


@dataclass(frozen=True)
class AclChange:
    created: list[AclBinding]
    deleted: list[AclBinding]
    kept: int


def current_acls(admin: AdminClient) -> list[AclBinding]:
    every = AclBindingFilter(
        ResourceType.ANY,
        _ANY_NAME,
        ResourcePatternType.ANY,
        _ANY_NAME,
        _ANY_NAME,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    result = admin.describe_acls(every, request_timeout=REQUEST_TIMEOUT_SECONDS).result()
    return list(result)


def apply_acls(
    admin: AdminClient,
    rules: Iterable[AclRule],
    managed_principals: Iterable[str],
    *,
    dry_run: bool = False,
) -> AclChange:
    """Make the managed principals' ACLs exactly ``rules``: create the missing bindings, delete
    the managed principals' bindings that the plan does not have. Other principals' ACLs are
    left alone. Idempotent."""
    wanted = {_key(b): b for b in map(binding, rules)}
    managed = {f"User:{p}" for p in managed_principals}
    present = {_key(b): b for b in current_acls(admin) if b.principal in managed}
    missing = [b for k, b in wanted.items() if k not in present]
    extra = [b for k, b in present.items() if k not in wanted]
    if not dry_run:
        if missing:
            for future in admin.create_acls(
                missing, request_timeout=REQUEST_TIMEOUT_SECONDS
            ).values():
                future.result()
        if extra:
            filters = [
                AclBindingFilter(
                    b.restype,
                    b.name,
                    b.resource_pattern_type,
                    b.principal,
                    b.host,
                    b.operation,
                    b.permission_type,
                )
                for b in extra
            ]
            for future in admin.delete_acls(
                filters, request_timeout=REQUEST_TIMEOUT_SECONDS
            ).values():
                future.result()
    return AclChange(created=missing, deleted=extra, kept=len(wanted) - len(missing))
