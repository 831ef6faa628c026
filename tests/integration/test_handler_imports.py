"""Cold start stays lean: Plan and Finalize make no LLM call, so importing them must not load the LLM stack
(~2 s) nor the X-Ray SDK; the LLM handlers load the X-Ray SDK only when its subsegments are switched on, and
never Powertools idempotency (Plan and Finalize's); and no handler loads a language module or a dictionary at
import (each loads on first use)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib

import pytest

from havachat.languages import MODULES
from havachat_local.template import load_template
from tests.helpers import ROOT

_PROBE = """
import importlib.util, json, sys
opened = []
def note_data_file(event, args):
    if event == "open" and isinstance(args[0], str) and "/havachat/languages/data/" in args[0]:
        opened.append(args[0])
sys.addaudithook(note_data_file)
spec = importlib.util.spec_from_file_location("handler_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
watched = ("anthropic", "instructor", "openai", "httpx2", "aws_xray_sdk", *json.loads(sys.argv[2]))
print(json.dumps({"modules": sorted(m for m in watched if m in sys.modules), "opened": opened}))
"""
LLM_AND_XRAY = {"anthropic", "instructor", "openai", "httpx2", "aws_xray_sdk"}
LANGUAGE_MODULES = {f"havachat.languages.{code}" for code in MODULES}
IDEMPOTENCY = "aws_lambda_powertools.utilities.idempotency"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dictionary_modules() -> list[str]:
    """The top-level modules of pyproject's `readings` extra (pypinyin, SudachiPy and its dictionary, ...)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    wanted = {_canonical(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]) for requirement in extras["readings"]}
    by_module = importlib.metadata.packages_distributions()
    return sorted(m for m, dists in by_module.items() if any(_canonical(d) in wanted for d in dists))


TEMPLATE_DEFAULT = {"POWERTOOLS_TRACE_DISABLED": "true"}
"""The environment the template gives every function by default (`TracingSubsegments=false`)."""


def _imported_by(function: str, environ: dict[str, str] = TEMPLATE_DEFAULT) -> tuple[set[str], list[str]]:
    """What importing `functions/<function>/app.py` loads in a fresh interpreter: the LLM-stack, X-Ray, idempotency,
    language and dictionary modules, and the files of havachat's own dictionaries (havachat/languages/data) it opens."""
    watched = [*dictionary_modules(), *LANGUAGE_MODULES, IDEMPOTENCY]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT / "functions" / function / "app.py"), json.dumps(watched)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", **environ},
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return set(found["modules"]), found["opened"]


def _heavy_modules_imported_by(function: str) -> list[str]:
    """The LLM-stack and X-Ray modules that importing `functions/<function>/app.py` loads."""
    return sorted(_imported_by(function)[0] & LLM_AND_XRAY)


@pytest.mark.parametrize("function", ["plan", "finalize"])
def test_light_handlers_do_not_import_the_llm_stack(function: str) -> None:
    assert _heavy_modules_imported_by(function) == []


def test_subsegments_switched_on_load_the_xray_sdk() -> None:
    modules, _ = _imported_by("generate_batch", {"POWERTOOLS_TRACE_DISABLED": "false"})
    assert {"anthropic", "aws_xray_sdk"} <= modules


def test_the_template_leaves_subsegments_off_by_default() -> None:
    template = load_template(ROOT / "template.yaml")
    assert template["Parameters"]["TracingSubsegments"]["Default"] == "false"
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["WithSubsegments", "false", "true"]}


def test_the_guard_knows_the_dictionaries() -> None:
    assert {"pypinyin", "sudachipy", "sudachidict_small", "pykakasi", "korean_romanizer"} <= set(dictionary_modules())


@pytest.mark.parametrize("function", ["plan", "finalize", "generate_batch", "content"])
def test_no_handler_loads_a_language_or_dictionary_at_import(function: str) -> None:
    modules, opened = _imported_by(function)
    assert sorted(modules & {*dictionary_modules(), *LANGUAGE_MODULES}) == [] and opened == []
    if function in ("generate_batch", "content"):  # the LLM handlers, X-Ray subsegments off by default
        assert "anthropic" in modules and "aws_xray_sdk" not in modules and IDEMPOTENCY not in modules
    else:  # Plan and Finalize use Powertools idempotency on every invocation: it loads at init
        assert IDEMPOTENCY in modules
