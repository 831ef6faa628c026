"""Plan and Finalize make no LLM call: importing them must not load the LLM stack (~2 s) nor the X-Ray SDK."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
heavy = ("anthropic", "instructor", "openai", "httpx2", "aws_xray_sdk")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _heavy_modules_imported_by(function: str) -> list[str]:
    """The LLM-stack and X-Ray modules that importing `functions/<function>/app.py` loads, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT / "functions" / function / "app.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


@pytest.mark.parametrize("function", ["plan", "finalize"])
def test_light_handlers_do_not_import_the_llm_stack(function: str) -> None:
    assert _heavy_modules_imported_by(function) == []


def test_generate_batch_does_import_them() -> None:
    assert {"anthropic", "aws_xray_sdk"} <= set(_heavy_modules_imported_by("generate_batch"))
