"""Shared test helpers: sample events from `events/` (the same files `sam local invoke -e` takes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"
FIXTURES_DIR = ROOT / "tests" / "fixtures"


def load_event(name: str) -> dict[str, Any]:
    """`events/<name>.json` as a dict."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF documents Powertools Metrics printed (one JSON object per line)."""
    documents = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        documents.append(json.loads(line))
    return documents


def emf_value(document: dict[str, Any], name: str) -> float:
    """A metric's value in an EMF document (Powertools writes a list when a metric has one value)."""
    value = document[name]
    return float(value[0] if isinstance(value, list) and len(value) == 1 else value)
