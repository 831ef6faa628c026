"""Session-wide settings every tier shares.

Powertools reads its service name and metrics namespace when `havachat.aws.observability` creates
Logger and Metrics, at import: a test module that imports it directly must find them set, as the
template's Globals set them for every function (the local runner sets the same for the CLI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "havachat")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Havachat")


@pytest.fixture(autouse=True)
def _havachat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local runs keep their state in the test's own HAVACHAT_HOME, never in the user's data directory."""
    monkeypatch.setenv("HAVACHAT_HOME", str(tmp_path / "havachat-home"))
