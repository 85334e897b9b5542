"""A registry for a simulation in which one institution takes its deliveries by webhook."""

from __future__ import annotations

from pathlib import Path

import yaml

from schemas.registry.loading import PACKAGED

WEBHOOK_RECIPIENT = "berufsbildung"
WEBHOOK_SECRET_ENV = "IIZ_WEBHOOK_SECRET_BERUFSBILDUNG"  # noqa: S105 - a variable name


def registry_with_webhook(path: Path, url: str, recipient: str = WEBHOOK_RECIPIENT) -> Path:
    """The packaged registry, written to ``path``, with ``recipient`` on a webhook at ``url``."""
    registry = yaml.safe_load((PACKAGED / "institutions.yaml").read_text(encoding="utf-8"))
    for institution in registry["institutions"]:
        if institution["id"] == recipient:
            institution["channel"] = {
                "kind": "webhook",
                "url": f"{url}/iiz/deliveries",
                "secret_env": WEBHOOK_SECRET_ENV,
            }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    return path
