"""Each function as `sam local invoke` runs it, on the sample events, against `havachat local-aws` (no Docker here).

A SAM container, made by hand: Python 3.12; the `sam build` output on the path (the function's
directory, then each layer's `python/`); the environment SAM gives a function (its `AWS_*` variables,
with SAM's placeholder credentials, and the variables the template declares, valued from the
`--env-vars` file: SAM adds none that the template does not declare); the event file from `events/`;
a process per `sam local invoke` (one warm process for the batches). The server is the real command,
`havachat local-aws`, in a subprocess.

The layers are built for arm64, which Docker would emulate on another machine: here the deps layer's
compiled packages, at the same versions, are put ahead of it built for this machine (pip, cached
under .aws-sam/sam-local/). `sam build` runs first (cached: seconds after `make infra`). Without the
SAM CLI (`scripts/install-infra-tools.sh`) the test is skipped. Run by `make sam-local`, which
`make test` runs after `make infra`; not in the default tier.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from havachat_local.runner import ACCOUNT, REGION
from havachat_local.template import TemplateInfo, load_template
from tests.helpers import EVENTS_DIR, ROOT, load_event

pytestmark = [pytest.mark.sam_local, pytest.mark.timeout(300)]

SAM = ROOT / ".tools" / "venv" / "bin" / "sam"
BUILD = ROOT / ".aws-sam" / "build"
SCRATCH = ROOT / ".aws-sam" / "sam-local"
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
PYENV_VERSION = "3.11.7:3.12.1:3.13.0"  # as scripts/check-infra.sh: sam build needs python3.12 on PATH
LAYER_TYPE = "AWS::Serverless::LayerVersion"

Invoke = Callable[[str, list[Path]], tuple[dict[str, Any], list[dict[str, Any]]]]


def _pyenv_environ() -> dict[str, str]:
    return {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", PYENV_VERSION), "SAM_CLI_TELEMETRY": "0"}


@pytest.fixture(scope="module")
def build() -> TemplateInfo:
    """`sam build` as `make infra` runs it (samconfig.toml: cached), and the template it wrote."""
    if not SAM.exists():
        pytest.skip("the SAM CLI is not installed: run scripts/install-infra-tools.sh (make infra does)")
    built = subprocess.run(
        [str(SAM), "build", "--template", "template.yaml"],
        cwd=ROOT,
        env=_pyenv_environ(),
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return TemplateInfo(BUILD, load_template(BUILD / "template.yaml"))


@pytest.fixture(scope="module")
def python312() -> str:
    """The Python 3.12 interpreter itself (pyenv's shim resolved)."""
    found = subprocess.run(
        ["python3.12", "-c", "import sys; print(sys.executable)"],
        env=_pyenv_environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def layer_dirs(build: TemplateInfo) -> list[Path]:
    """Each layer's `python/` directory, in the order the functions list the layers (as /opt/python)."""
    layers = build.template["Globals"]["Function"]["Layers"]
    return [
        BUILD / build.template["Resources"][layer["Ref"]]["Properties"]["ContentUri"] / "python" for layer in layers
    ]


def compiled_packages(layer: Path) -> list[str]:
    """`name==version` of each package in the layer whose wheel is platform-specific (not `-any`)."""
    pinned = []
    for wheel in sorted(layer.glob("*.dist-info/WHEEL")):
        lines = wheel.read_text(encoding="utf-8").splitlines()
        tags = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]
        if tags and not any(tag.endswith("-any") for tag in tags):
            name, version = wheel.parent.name.removesuffix(".dist-info").rsplit("-", 1)
            pinned.append(f"{name}=={version}")
    return pinned


@pytest.fixture(scope="module")
def host_packages(build: TemplateInfo, python312: str) -> list[Path]:
    """On a machine that is not arm64: the layers' compiled packages built for it (nothing on arm64)."""
    if platform.machine() in ("aarch64", "arm64"):
        return []
    pinned = [p for layer in layer_dirs(build) for p in compiled_packages(layer)]
    key = hashlib.sha256("\n".join([platform.machine(), *pinned]).encode()).hexdigest()[:12]
    target = SCRATCH / f"host-packages-{key}"
    if not target.is_dir():
        partial = target.with_name(f"{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        command = [python312, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:"]
        subprocess.run([*command, "--target", str(partial), *pinned], check=True, capture_output=True)
        partial.rename(target)
    return [target]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`havachat local-aws` on a free port, reached at 127.0.0.1; yields the --env-vars file it wrote."""
    env_vars = tmp_path_factory.mktemp("local-aws") / "env-vars.json"
    command = [sys.executable, "-m", "havachat_local.cli", "local-aws", "--port", "0", "--endpoint-host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--env-vars", str(env_vars)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not env_vars.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not env_vars.exists():
        process.kill()
        pytest.fail(f"havachat local-aws wrote no env-vars file: {process.communicate()[1][-3000:]}")
    yield env_vars
    process.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-3000:]
    assert "sam local invoke PlanFunction -e events/s3_object_created.json" in out


def container_environment(build: TemplateInfo, function: str, env_vars: Path) -> dict[str, str]:
    """The variables `sam local invoke --env-vars` gives the function, with no AWS credentials configured."""
    globals_fn = build.template["Globals"]["Function"]
    props = build.template["Resources"][function]["Properties"]
    declared = {**globals_fn["Environment"]["Variables"], **props.get("Environment", {}).get("Variables", {})}
    document = json.loads(env_vars.read_text(encoding="utf-8"))
    overrides = {**document.get("Parameters", {}), **document.get(function, {})}
    variables = {  # an intrinsic the file does not override reaches the function as ""
        name: str(overrides.get(name, value if isinstance(value, str | int | float) else ""))
        for name, value in declared.items()
    }
    return {
        "AWS_SAM_LOCAL": "true",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "defaultkey",
        "AWS_SECRET_ACCESS_KEY": "defaultsecret",
        "AWS_ACCOUNT_ID": ACCOUNT,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", globals_fn["MemorySize"])),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(props.get("Timeout", globals_fn["Timeout"])),
        "AWS_LAMBDA_FUNCTION_HANDLER": str(props.get("Handler", globals_fn["Handler"])),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
        **variables,
    }


@pytest.fixture
def invoke(build: TemplateInfo, python312: str, host_packages: list[Path], server: Path, tmp_path: Path) -> Invoke:
    """`sam local invoke FUNCTION -e EVENT --env-vars <server's file>` for each event, in one process."""

    def run(function: str, events: list[Path]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        code = BUILD / build.template["Resources"][function]["Properties"]["CodeUri"]
        path = [*host_packages, code, *layer_dirs(build)]
        environment = {
            **container_environment(build, function, server),
            "PYTHONPATH": os.pathsep.join(map(str, path)),
            "PYTHONPYCACHEPREFIX": str(SCRATCH / "pycache"),  # the build directories stay as sam build left them
            "HOME": str(tmp_path),  # no ~/.aws of this machine's
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
        }
        out = tmp_path / f"{function}.jsonl"
        done = subprocess.run(
            [python312, "-P", str(BOOTSTRAP), str(out), *map(str, events)],
            cwd=code,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        ran, *results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert ran["python"].startswith("3.12.")
        assert Path(ran["handler"]).is_relative_to(code)
        assert any(Path(ran["havachat"]).is_relative_to(layer) for layer in layer_dirs(build))
        return ran, results

    return run


def test_the_readme_sam_local_invoke_lines_finish_a_run_offline(invoke: Invoke, server: Path) -> None:
    endpoint = json.loads(server.read_text(encoding="utf-8"))["Parameters"]["AWS_ENDPOINT_URL"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    upload = load_event("s3_object_created")["detail"]
    batch_files = sorted((EVENTS_DIR / "batches").glob("*.json"))
    batch_events = [json.loads(path.read_text(encoding="utf-8")) for path in batch_files]

    # When Plan runs on the upload event (the sample file is where it points)
    _, [plan] = invoke("PlanFunction", [EVENTS_DIR / "s3_object_created.json"])

    # Then it plans the run that the batch and finalize events describe
    assert plan["duplicate"] is False and plan["status"] == "RUNNING", plan
    assert plan["run_id"] == load_event("finalize")["run_id"] == load_event("generate_batch")["run_id"]
    manifest = json.loads(s3.get_object(Bucket=upload["bucket"]["name"], Key=plan["manifest_key"])["Body"].read())
    assert [b["batch"] for b in batch_events] == sorted(manifest, key=lambda b: b["batch_id"])
    assert load_event("generate_batch")["batch"] == manifest[0]
    assert {(e["run_id"], e["language"], json.dumps(e["level"])) for e in batch_events} == {
        (plan["run_id"], plan["language"], json.dumps(plan["level"]))
    }

    # When GenerateBatch runs on every batch event
    _, batches = invoke("GenerateBatchFunction", batch_files)

    # Then every batch succeeded offline, with items
    assert [(b["batch_id"], b["status"]) for b in batches] == [
        (e["batch"]["batch_id"], "SUCCEEDED") for e in batch_events
    ]
    assert sum(b["item_count"] for b in batches) > 0

    # When Finalize runs on the run id
    _, [final] = invoke("FinalizeFunction", [EVENTS_DIR / "finalize.json"])

    # Then the run SUCCEEDED, as the sample completion event says, and its items are in the bucket
    generated = load_event("learning_items_generated")["detail"]
    assert (final["status"], final["failed_batches"]) == ("SUCCEEDED", 0), final
    assert final["items_total"] == generated["items_total"] > 0
    items = s3.get_object(Bucket=generated["output"]["bucket"], Key=generated["output"]["items_key"])
    assert len(items["Body"].read().splitlines()) == final["items_total"]

    # When Content runs on the completion event, offline
    _, [content] = invoke("ContentFunction", [EVENTS_DIR / "learning_items_generated.json"])

    # Then it stops, saying it needs an LLM, and writes no content
    assert content["errorType"] == "NeedsLlm", content
    assert "conversations and stories need an LLM" in content["errorMessage"]
    listed = s3.list_objects_v2(Bucket=generated["output"]["bucket"], Prefix=f"results/{final['run_id']}/")
    assert "content.json" not in {Path(o["Key"]).name for o in listed.get("Contents", [])}
