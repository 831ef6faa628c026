"""The dictionaries load lazily: only Plan imports their module, and importing it reads no dictionary file."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT

_PROBE = """
import importlib.util, json, sys
seen = {}
for function in sys.argv[1:]:  # Plan last: it is the one expected to import the module
    spec = importlib.util.spec_from_file_location(f"{function}_app", f"functions/{function}/app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    dictionary = sys.modules.get("havachat.languages.dictionary")
    read = dictionary._loaded.cache_info().currsize if dictionary else 0
    seen[function] = {"imported": dictionary is not None, "read": read}
print(json.dumps(seen))
"""


def test_only_plan_imports_the_dictionaries_and_none_is_read_at_init() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "finalize", "generate_batch", "plan"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "finalize": {"imported": False, "read": 0},
        "generate_batch": {"imported": False, "read": 0},
        "plan": {"imported": True, "read": 0},
    }
