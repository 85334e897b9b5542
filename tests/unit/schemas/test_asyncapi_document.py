"""schemas/asyncapi.json is valid per the official AsyncAPI parser (npm: @asyncapi/parser),
and that validator is shown to reject broken documents."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.generate import ASYNCAPI_PATH, JSON_DIR

ROOT = Path(__file__).resolve().parents[3]
TOOL_DIR = ROOT / "tools" / "asyncapi"
VALIDATOR = TOOL_DIR / "validate.mjs"
INSTALL = "npm ci --prefix tools/asyncapi"


def run_validator(*documents: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node (>= 20) is needed to validate the AsyncAPI document"
    assert (TOOL_DIR / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        f"the AsyncAPI validator is not installed: run `{INSTALL}` in {ROOT}"
    )
    return subprocess.run(
        [node, str(VALIDATOR), *(str(d) for d in documents)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _reference_missing_message(document: dict[str, Any]) -> None:
    document["channels"]["caseEvents"]["messages"]["ghost"] = {
        "$ref": "#/components/messages/ch_bl_iiz_case_reopened_v1"
    }


def _drop_version(document: dict[str, Any]) -> None:
    del document["asyncapi"]


def _point_payload_at_missing_file(document: dict[str, Any]) -> None:
    first = next(iter(document["components"]["messages"].values()))
    first["payload"] = {"$ref": "json/ch.bl.iiz.case.reopened.v1.json"}


def _use_an_asyncapi_2_action(document: dict[str, Any]) -> None:
    first = next(iter(document["operations"].values()))
    first["action"] = "publish"


def _unchanged(_document: dict[str, Any]) -> None:
    pass


# name → (change, expected diagnostic code or None for "must stay valid")
VARIANTS: dict[str, tuple[Callable[[dict[str, Any]], None], str | None]] = {
    "unchanged copy": (_unchanged, None),
    "ref to a missing message": (_reference_missing_message, "invalid-ref"),
    "asyncapi field removed": (_drop_version, "asyncapi-is-asyncapi"),
    "payload file missing": (_point_payload_at_missing_file, "invalid-ref"),
    "operation action publish": (_use_an_asyncapi_2_action, "action"),
}
BROKEN = [name for name, (_, diagnostic) in VARIANTS.items() if diagnostic]


@pytest.fixture(scope="module")
def variant_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Validates every variant in one node process; returns each document's report."""
    paths: dict[str, Path] = {}
    for index, (name, (change, _)) in enumerate(VARIANTS.items()):
        folder = tmp_path_factory.mktemp(f"asyncapi{index}")
        # A copy of json/ next to it, so the relative payload $refs resolve.
        shutil.copytree(JSON_DIR, folder / "json")
        document = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
        change(document)
        paths[name] = folder / "asyncapi.json"
        paths[name].write_text(json.dumps(document), encoding="utf-8")

    result = run_validator(*paths.values())

    assert result.returncode == 1, result.stdout + result.stderr
    sections = {chunk.split("\n", 1)[0].strip(): chunk for chunk in result.stdout.split("== ")[1:]}
    return {name: sections[str(path)] for name, path in paths.items()}


def test_the_published_asyncapi_document_is_valid() -> None:
    result = run_validator(ASYNCAPI_PATH)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"VALID: {ASYNCAPI_PATH}" in result.stdout


def test_an_unchanged_copy_is_valid_so_broken_copies_fail_for_their_break(
    variant_reports: dict[str, str],
) -> None:
    assert "VALID:" in variant_reports["unchanged copy"]
    assert "INVALID:" not in variant_reports["unchanged copy"]


@pytest.mark.parametrize("name", BROKEN)
def test_the_validator_rejects_a_broken_copy(variant_reports: dict[str, str], name: str) -> None:
    report = variant_reports[name]
    diagnostic = VARIANTS[name][1]

    errors = [line for line in report.splitlines() if line.startswith("error ")]
    assert "INVALID:" in report
    assert any(diagnostic in line for line in errors), report
