"""The key-rotation commands of ``python -m services.ops``:

python -m services.ops keys status        # rows per key id and kind; what can be retired
python -m services.ops rekey [--batch N]  # move every row to the current keys (online)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.common.banner import announce, load_settings
from services.ops.keys import KeysSettings, key_status, rekey, retirement_advice, status_lines
from services.ops.keys_stores import Moved, Store

AREAS = ("keys", "rekey")


def add_parsers(top: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = top.add_parser(
        "keys", help="key versions in use (pseudonym, identity, person, document)"
    )
    keys_cmd = keys.add_subparsers(dest="command", required=True)
    keys_cmd.add_parser("status", help="stored rows per key id; which previous ids can be retired")
    rk = top.add_parser("rekey", help="move every stored row to the current keys (online)")
    rk.add_argument(
        "--batch", type=int, default=500, help="rows per transaction (documents: at most 16)"
    )


def run(args: argparse.Namespace) -> int:
    command = "ops keys status" if args.area == "keys" else "ops rekey"
    settings = load_settings(KeysSettings, command)
    schemas = (
        settings.coordination_db_schema,
        settings.person_db_schema,
        settings.document_db_schema,
    )
    announce(
        command,
        settings,
        kafka=False,
        database=args.area == "rekey",  # the audit row, as the service role
        owner=True,
        extra=f"schemas {', '.join(schemas)}",
    )
    if args.area == "keys":
        status = asyncio.run(key_status(settings))
        print("\n".join([*status_lines(status), "", *retirement_advice(status)]))
        return 0
    if args.batch < 1:
        print("[ops] --batch is at least 1", file=sys.stderr)
        return 2

    async def progress(store: Store, moved: Moved) -> None:
        print(f"[ops] {store.kind}: {moved.moved} moved in {store.place}", file=sys.stderr)

    report = asyncio.run(rekey(settings, batch=args.batch, on_batch=progress))
    for kind, n in report.moved.items():
        print(f"{kind:<10} moved {n:>8}  left under another key {report.left[kind]:>6}")
    status = asyncio.run(key_status(settings))
    print("\n".join(["", *retirement_advice(status)]))
    return 0 if not any(report.left.values()) else 1
