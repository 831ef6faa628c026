"""havachat: vocabulary lists in, validated language-learning items out.

Kept light on purpose: importing the package pulls in pydantic only. The LLM stack
(`havachat.llm`) and AWS adapters (`havachat.aws`) are imported where they are used.
`LearningItemGenerator` and `GenerationFailed` (the Python API, `havachat.api`) and `check_reading`
(`havachat.readings`: a romanization against the text's reading in context) load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["GenerationFailed", "LearningItemGenerator", "ReadingCheck", "check_reading"]
_HOMES = {
    "GenerationFailed": "havachat.api",
    "LearningItemGenerator": "havachat.api",
    "ReadingCheck": "havachat.languages.common",
    "check_reading": "havachat.readings",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'havachat' has no attribute {name!r}")
