"""Session-wide settings every tier shares.

Powertools reads its service name and metrics namespace when `havachat.aws.observability` creates
Logger and Metrics, at import: a test module that imports it directly must find them set, as the
template's Globals set them for every function (the local runner sets the same for the CLI).
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "havachat")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Havachat")
