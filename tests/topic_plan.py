"""``infra/create_topics.py`` as a module (it is a script beside the infra, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "create_topics.py"


def create_topics() -> ModuleType:
    if "iiz_create_topics" not in sys.modules:
        spec = importlib.util.spec_from_file_location("iiz_create_topics", SCRIPT)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["iiz_create_topics"] = module
        spec.loader.exec_module(module)
    return sys.modules["iiz_create_topics"]
