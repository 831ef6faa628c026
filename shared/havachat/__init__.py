"""havachat: vocabulary lists in, validated language-learning items out.

Kept light on purpose: importing the package pulls in pydantic only. The LLM stack
(`havachat.llm`) and AWS adapters (`havachat.aws`) are imported where they are used.
`LearningItemGenerator` and `GenerationFailed` (the Python API, `havachat.api`) load on first access.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["GenerationFailed", "LearningItemGenerator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from havachat import api

        return getattr(api, name)
    raise AttributeError(f"module 'havachat' has no attribute {name!r}")
