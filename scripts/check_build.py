"""Check what `sam build` made: what ships in each function, that it fits Lambda, and that it runs on arm64.

For every function in `.aws-sam/build/template.yaml`: its code plus its layers, unzipped, must stay
under Lambda's 250 MB limit; every compiled extension must be built for CPython 3.12 on aarch64 (a
wheel for the build machine's own platform would import-fail on Lambda); the shared layer must hold
only the `havachat` package (the CLI and the local runner, `havachat_local`, stay out of it) and with it
the dictionaries Plan fills definitions from (`havachat/languages/data/`, ~8.5 MB); the shared layer's
modules and the deps layer's `COLD_START` packages (layers/deps/Makefile) must ship their CPython 3.12
bytecode (Lambda cannot write it to the read-only /opt, so it would compile them at each cold start); a
layer that ships botocore ships boto3 too (the runtime's boto3 must not run on the layer's botocore).
Prints the shared layer's files and each function's size, so a reviewer sees what ships.

Usage: python scripts/check_build.py [.aws-sam/build]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
EXTENSION = re.compile(r"\.(?:cpython-(?P<abi>\d+)-(?P<platform>[^.]+)\.so|abi3\.so|so)$")
WANTED_ABI, WANTED_PLATFORM = "312", "aarch64-linux-gnu"
BYTECODE_TAG = "cpython-312"  # Lambda's /opt is read-only: a module without its .pyc is compiled at every cold start
SHARED = Path(__file__).resolve().parent.parent / "shared"
DEPS_MAKEFILE = SHARED.parent / "layers" / "deps" / "Makefile"
DICTIONARIES = {f"python/{p.relative_to(SHARED)}" for p in (SHARED / "havachat" / "languages" / "data").iterdir()}
"""The dictionary files and their NOTICE (havachat.languages.dictionary), as the shared layer must ship them."""


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, ...) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def cold_start_packages(makefile: Path = DEPS_MAKEFILE) -> list[str]:
    """The packages (or single modules) the deps layer ships with bytecode: `COLD_START` in its Makefile."""
    text = makefile.read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(r"^COLD_START = (.*)$", text, re.MULTILINE)
    if found is None:
        raise SystemExit(f"{makefile} names no COLD_START packages")
    return found.group(1).split()


def without_bytecode(root: Path) -> list[str]:
    """The modules under `root` (a package directory or one module) that ship without their CPython 3.12 bytecode."""
    sources = [root] if root.is_file() else sorted(root.rglob("*.py"))
    return [str(source.relative_to(root.parent)) for source in sources if not bytecode(source).is_file()]


def bytecode(source: Path) -> Path:
    """Where CPython 3.12 looks for `source`'s compiled module."""
    return source.parent / "__pycache__" / f"{source.stem}.{BYTECODE_TAG}.pyc"


def size_of(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def wrong_extensions(directory: Path) -> list[str]:
    """Compiled extensions not built for CPython 3.12 on aarch64 Linux."""
    wrong = []
    for path in directory.rglob("*.so*"):
        match = EXTENSION.search(path.name)
        if match is None or match["abi"] is None:
            continue  # abi3 or an unversioned shared library: checked by the platform tag of its wheel below
        if match["abi"] != WANTED_ABI or match["platform"] != WANTED_PLATFORM:
            wrong.append(str(path.relative_to(directory)))
    for wheel_tag in directory.rglob("*.dist-info/WHEEL"):
        tags = [line.split(":", 1)[1].strip() for line in wheel_tag.read_text().splitlines() if line.startswith("Tag:")]
        if tags and not any(t.endswith("-any") or "aarch64" in t for t in tags):
            wrong.append(f"{wheel_tag.parent.name}: {', '.join(tags)}")
    return wrong


def main(build: Path) -> int:
    template = yaml.load((build / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    resources = template["Resources"]
    layers = {lid: build / lid for lid, r in resources.items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    problems: list[str] = []

    for lid, directory in layers.items():
        problems += [f"{lid}: {name} is not a cp312 aarch64 build" for name in wrong_extensions(directory)]
        shipped_packages = {p.name for p in (directory / "python").glob("*") if p.is_dir()}
        if "botocore" in shipped_packages and "boto3" not in shipped_packages:
            problems.append(f"{lid}: ships botocore without boto3, shadowing the runtime's botocore under its boto3")
    shared = layers.get("SharedLayer")
    if shared is not None:
        shipped = sorted(
            str(p.relative_to(shared)) for p in shared.rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
        print(f"SharedLayer ships {len(shipped)} files:")
        print("\n".join(f"  {name}" for name in shipped))
        packages = {name.split("/")[1] for name in shipped if name.startswith("python/") and name.count("/") > 1}
        if packages != {"havachat"}:
            problems.append(f"SharedLayer: expected only the havachat package, found {sorted(packages)}")
        missing = sorted(DICTIONARIES - set(shipped))
        if missing:
            problems.append(f"SharedLayer: lacks {', '.join(missing)}: Plan fills missing definitions from them")
        uncompiled = without_bytecode(shared / "python" / "havachat")
        if uncompiled:
            problems.append(
                f"SharedLayer: no {BYTECODE_TAG} .pyc for {', '.join(uncompiled[:5])}: compiled at every cold start"
            )

    deps = layers.get("DepsLayer")
    if deps is not None:
        uncompiled = [name for package in cold_start_packages() for name in without_bytecode(deps / "python" / package)]
        if uncompiled:
            problems.append(f"DepsLayer: no {BYTECODE_TAG} .pyc for {', '.join(uncompiled[:5])} (layers/deps/Makefile)")

    print("\nfunction             unzipped (code + layers)")
    for lid, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        # SAM adds a function's own Layers to the Globals' ones (lists in Globals are additive)
        shared_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
        declared = [*shared_layers, *(resource["Properties"].get("Layers") or [])]
        used = [layers[ref["Ref"]] for ref in declared if isinstance(ref, dict) and ref.get("Ref") in layers]
        total = size_of(build / lid) + sum(size_of(d) for d in used)
        print(f"{lid:<20} {total / 1024 / 1024:8.1f} MB")
        if total > LAMBDA_UNZIPPED_LIMIT:
            problems.append(f"{lid}: {total / 1024 / 1024:.1f} MB unzipped, over Lambda's 250 MB")

    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")))
