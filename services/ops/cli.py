"""``python -m services.ops``: Kafka principals, credentials and ACLs.

    python -m services.ops partners credentials <institution> [--keep]
    python -m services.ops services credentials <intake|coordination|notifications> [--keep]
    python -m services.ops kafka bootstrap          # every missing credential + apply-acls
    python -m services.ops kafka apply-acls [--dry-run]
    python -m services.ops kafka acls [--all]       # the ACL plan as a Markdown table
    python -m services.ops identity realm --credentials-dir DIR --import-dir DIR
    python -m services.ops identity token <username>  # local Keycloak only (iiz-tests client)
    python -m services.ops keys status               # rows per key version; what can be retired
    python -m services.ops rekey [--batch N]          # stored rows to the current keys (online)

Every command connects as the ``IIZ_KAFKA_*`` settings say, which must be a super user (admin;
``eval "$(infra/local env)"``). ``credentials`` creates the principal's SCRAM credential, or
replaces it with a new password (rotation; ``--keep`` keeps an existing password file), writes
the password file (0600) and prints what the principal's IT needs to connect. The password is
printed to standard output only; nothing is logged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import KafkaException

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.banner import announce, load_settings
from services.ops import keys_cli
from services.ops.acl_plan import (
    SERVICES,
    Access,
    access_plan,
    acl_plan,
    markdown_table,
    service_principal,
)
from services.ops.credentials import new_password, read_password, write_password
from services.ops.identity_files import ensure_secrets, write_import
from services.ops.identity_tokens import NoLocalProviderError, local_access_token
from services.ops.kafka_admin import (
    admin_client,
    apply_acls,
    describe_binding,
    scram_users,
    upsert_scram,
)
from services.ops.settings import OpsSettings


def _note(message: str) -> None:
    print(f"[ops] {message}", file=sys.stderr)


def _access_of(plan: Sequence[Access], principal: str, what: str) -> Access:
    for access in plan:
        if access.principal == principal:
            return access
    known = ", ".join(a.principal for a in plan if a.kind == what)
    raise SystemExit(f"[ops] unknown {what} {principal!r}; known: {known}")


def _credential_sheet(settings: OpsSettings, access: Access, password: str, path: Path) -> str:
    ca = str(settings.kafka_ca_file) if settings.kafka_ca_file else "(the CA file of the cluster)"
    lines = [
        f"Kafka access for {access.principal}"
        + (f" ({access.description})" if access.description else ""),
        "",
        f"  bootstrap servers   {settings.partner_bootstrap_servers}",
        "  security protocol   SASL_SSL (TLS; verify the brokers against the CA certificate)",
        f"  CA certificate      {ca}",
        f"  SASL mechanism      {settings.kafka_sasl_mechanism}",
        f"  user                {access.principal}",
        f"  password            {password}",
        "",
        f"  may produce to      {', '.join(access.produces) or 'nothing'}",
        f"  may consume from    {', '.join(access.consumes) or 'nothing'}",
    ]
    if access.group_prefixes:
        prefixes = ", ".join(f'"{p}"' for p in access.group_prefixes)
        lines.append(
            f"  consumer groups     names starting with {prefixes}"
            f" (e.g. {access.group_prefixes[0]}deliveries)"
        )
    if access.groups:
        lines.append(f"  consumer groups     {', '.join(access.groups)}")
    if access.transactional_prefixes:
        lines.append(
            "  transactional ids   names starting with "
            + ", ".join(f'"{p}"' for p in access.transactional_prefixes)
        )
    lines += [
        "",
        "  Hand over the password and the CA certificate on separate channels. A new run of",
        "  this command replaces the password (the old one stops working at once).",
        f"  Password file: {path} (mode 0600, never in git).",
    ]
    return "\n".join(lines) + "\n"


def credentials(
    settings: OpsSettings, registry: InstitutionRegistry, principal: str, *, kind: str, keep: bool
) -> int:
    plan = access_plan(registry, settings.service_names)
    access = _access_of(plan, principal, kind)
    directory = settings.credentials_dir
    existing = read_password(directory, principal)
    password = existing if keep and existing else new_password()
    admin = admin_client(settings)
    upsert_scram(admin, principal, password, settings.kafka_sasl_mechanism)
    path = write_password(directory, principal, password)
    change = apply_acls(admin, access.rules(), [principal])
    verb = (
        "kept the existing"
        if password == existing
        else ("rotated the" if existing else "created a")
    )
    _note(
        f"{verb} SCRAM credential of {principal}; ACLs: {len(change.created)} created,"
        f" {len(change.deleted)} deleted, {change.kept} unchanged"
    )
    sys.stdout.write(_credential_sheet(settings, access, password, path))
    return 0


def bootstrap(settings: OpsSettings, registry: InstitutionRegistry) -> int:
    """Every managed principal gets a credential (an existing password file is kept, a user
    the broker lacks is created with it), then the ACL plan is applied."""
    plan = access_plan(registry, settings.service_names)
    directory = settings.credentials_dir
    admin = admin_client(settings)
    on_broker = scram_users(admin)
    created: list[str] = []
    restored: list[str] = []
    for access in plan:
        existing = read_password(directory, access.principal)
        if existing is not None and access.principal in on_broker:
            continue
        password = existing or new_password()
        upsert_scram(admin, access.principal, password, settings.kafka_sasl_mechanism)
        write_password(directory, access.principal, password)
        (restored if existing else created).append(access.principal)
    change = apply_acls(
        admin, acl_plan(registry, settings.service_names), [a.principal for a in plan]
    )
    _note(
        f"principals: {len(plan)} ({len(created)} new, {len(restored)} re-created on the broker"
        f" from their password files); ACLs: {len(change.created)} created,"
        f" {len(change.deleted)} deleted, {change.kept} unchanged; passwords in {directory}"
    )
    return 0


def apply(settings: OpsSettings, registry: InstitutionRegistry, *, dry_run: bool) -> int:
    plan = access_plan(registry, settings.service_names)
    change = apply_acls(
        admin_client(settings),
        acl_plan(registry, settings.service_names),
        [a.principal for a in plan],
        dry_run=dry_run,
    )
    would = "would be " if dry_run else ""
    for b in change.created:
        print(f"{would}created: {describe_binding(b)}")
    for b in change.deleted:
        print(f"{would}deleted: {describe_binding(b)}")
    print(
        f"ACLs: {len(change.created)} {would}created, {len(change.deleted)} {would}deleted,"
        f" {change.kept} unchanged"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.ops", description=__doc__.splitlines()[0])
    top = p.add_subparsers(dest="area", required=True)

    partners = top.add_parser("partners", help="institutions' Kafka credentials")
    partners_cmd = partners.add_subparsers(dest="command", required=True)
    pc = partners_cmd.add_parser("credentials", help="create or rotate an institution's credential")
    pc.add_argument("institution", help="the institution's id in the registry, e.g. rav")
    pc.add_argument("--keep", action="store_true", help="keep an existing password file's password")

    services = top.add_parser("services", help="the services' Kafka credentials")
    services_cmd = services.add_subparsers(dest="command", required=True)
    sc = services_cmd.add_parser("credentials", help="create or rotate a service's credential")
    sc.add_argument("service", choices=SERVICES)
    sc.add_argument("--keep", action="store_true", help="keep an existing password file's password")

    kafka = top.add_parser("kafka", help="principals and ACLs on the cluster")
    kafka_cmd = kafka.add_subparsers(dest="command", required=True)
    kafka_cmd.add_parser("bootstrap", help="every missing credential, then apply-acls")
    ka = kafka_cmd.add_parser("apply-acls", help="make the managed principals' ACLs the plan")
    ka.add_argument("--dry-run", action="store_true", help="only show what would change")
    kt = kafka_cmd.add_parser("acls", help="print the ACL plan as a Markdown table")
    kt.add_argument("--all", action="store_true", help="one row per institution")

    identity = top.add_parser("identity", help="the local identity provider (Keycloak)")
    identity_cmd = identity.add_subparsers(dest="command", required=True)
    ir = identity_cmd.add_parser("realm", help="secrets (kept if present) and the realm JSON")
    ir.add_argument("--credentials-dir", type=Path, required=True)
    ir.add_argument("--import-dir", type=Path, required=True)
    it = identity_cmd.add_parser("token", help="a local user's access token (password grant)")
    it.add_argument("username", help="e.g. koordination-rav, ausschuss")
    keys_cli.add_parsers(top)
    return p


def password_folder(settings: OpsSettings) -> str:
    where = f"password files in {settings.credentials_dir}"
    if settings.kafka_credentials_dir is None and settings.infra_home is None:
        where += (
            " (IIZ_KAFKA_CREDENTIALS_DIR and IIZ_INFRA_HOME not set: using the default"
            " local infra's folder)"
        )
    return where


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.area in keys_cli.AREAS:  # the database, not Kafka
        return keys_cli.run(args)
    registry = load_institutions()
    if args.area == "identity" and args.command == "token":
        try:
            print(local_access_token(args.username))
        except NoLocalProviderError as error:
            _note(str(error))
            return 1
        return 0
    if args.area == "identity":
        written = write_import(
            args.import_dir, registry, ensure_secrets(args.credentials_dir, registry)
        )
        _note(f"identity provider: {', '.join(p.name for p in written)} in {args.import_dir}")
        return 0
    command = f"ops {args.area} {args.command}"
    settings = load_settings(OpsSettings, command)
    if args.area == "kafka" and args.command == "acls":  # connects nowhere: only the plan
        plan = access_plan(registry, settings.service_names)
        sys.stdout.write(markdown_table(plan, all_institutions=args.all))
        return 0
    writes_passwords = args.area != "kafka" or args.command == "bootstrap"
    announce(
        command,
        settings,
        database=False,
        extra=password_folder(settings) if writes_passwords else None,
    )
    try:
        if args.area == "partners":
            return credentials(
                settings, registry, args.institution, kind="institution", keep=args.keep
            )
        if args.area == "services":
            return credentials(
                settings, registry, service_principal(args.service), kind="service", keep=args.keep
            )
        if args.command == "bootstrap":
            return bootstrap(settings, registry)
        return apply(settings, registry, dry_run=args.dry_run)
    except KafkaException as error:
        _note(f"Kafka refused or failed: {error.args[0] if error.args else error}")
        return 1
