"""`havachat validate`, `plan` and `run` at intake (issue 14): warnings shown, `--json` for tools, language codes
checked up front, and a language the offline generator cannot serve refused before running.

In process through Typer's runner (stdout and stderr apart), and once as a real subprocess, where a
lone surrogate printed to a UTF-8 terminal would crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from havachat_local.cli import ExitCode, app
from tests.helpers import ROOT

HIDDEN = "word,definition\n你\u200b好,\x1b[31mhello\x07\n안녕,hi\n你好,hello again\n"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in [n for n in os.environ if n.startswith(("ANTHROPIC_", "HAVACHAT_")) and n != "HAVACHAT_HOME"]:
        monkeypatch.delenv(name)
    return CliRunner()


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_validate_json_gives_entries_warnings_and_problems(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["validate", _file(tmp_path, "list.csv", HIDDEN), "-l", "zh", "--level", "HSK1", "--json"]
    )

    assert done.exit_code == ExitCode.OK, done.stderr
    document = json.loads(done.stdout)
    assert (document["language"], document["level"], document["problems"]) == ("zh", "HSK 1", [])
    assert [(e["word"], e["definition"]) for e in document["entries"]] == [("你好", "hello"), ("안녕", "hi")]
    assert document["warnings"] == [
        {"row": 2, "problem": "'word': removed invisible characters U+200B ZERO WIDTH SPACE"},
        {"row": 2, "problem": "'definition': removed control characters \\x1b[31m, \\x07"},
        {"row": 3, "problem": "'안녕' has Hangul letters, unusual for zh, written in Han"},
        {
            "row": 4,
            "problem": "'你好' repeats row 2 and was merged into it; its definition 'hello again' dropped "
            "(the first value wins)",
        },
    ]


def test_validate_takes_the_language_from_the_json_envelope(runner: CliRunner, tmp_path: Path) -> None:
    envelope = json.dumps({"language": "ja", "level": "N5", "items": ["学校", "학교"]}, ensure_ascii=False)

    done = runner.invoke(app, ["validate", _file(tmp_path, "list.json", envelope), "--json"])

    document = json.loads(done.stdout)
    assert (document["language"], document["level"]) == ("ja", "JLPT N5")
    assert [w["row"] for w in document["warnings"]] == [2]
    assert "Hangul letters, unusual for ja" in document["warnings"][0]["problem"]


def test_validate_prints_each_warning_with_its_row(runner: CliRunner, tmp_path: Path) -> None:
    path = _file(tmp_path, "list.csv", HIDDEN)

    done = runner.invoke(app, ["validate", path, "--language", "zh"])

    assert done.exit_code == ExitCode.OK
    assert "2 entries (word), valid" in " ".join(done.stdout.split())
    assert f"! {path}, row 2: 'word': removed invisible characters U+200B ZERO WIDTH SPACE" in done.stderr
    assert f"! {path}, row 3: '안녕' has Hangul letters" in done.stderr
    assert "\x1b[31m" not in done.stderr and "\u200b" not in done.stderr


def test_validate_shows_the_first_twenty_warnings_and_counts_the_rest(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", _file(tmp_path, "list.csv", "word\n" + "a\n" * 31)])

    assert done.stderr.count("repeats row 2") == 20
    assert "and 10 more warnings: `havachat validate" in done.stderr


def test_validate_json_of_a_rejected_file_lists_its_problems(runner: CliRunner, tmp_path: Path) -> None:
    path = _file(tmp_path, "list.json", '["ok", "\\ud83d"]')

    done = runner.invoke(app, ["validate", path, "--json"])

    assert done.exit_code == ExitCode.INVALID_INPUT
    document = json.loads(done.stdout)
    assert (document["entries"], document["warnings"]) == ([], [])
    (problem,) = document["problems"]
    assert (problem["row"], problem["column"]) == (2, "word")
    assert problem["problem"].startswith("a lone UTF-16 surrogate \\ud83d")


def test_plan_shows_the_warnings(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(app, ["plan", _file(tmp_path, "list.csv", HIDDEN), "-l", "zh", "--level", "HSK1", "--json"])

    assert done.exit_code == ExitCode.OK, done.stderr
    assert [w["row"] for w in json.loads(done.stdout)["warnings"]] == [2, 2, 3, 4]
    assert "row 3: '안녕' has Hangul letters" in done.stderr


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("xx", "✗ --language: 'xx' is not a language code (BCP 47); use a code such as zh, ja, es or pt-BR\n"),
        ("english", "✗ --language: 'english' is not a language code (BCP 47); did you mean 'en'?\n"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_language_that_is_not_bcp_47_is_refused_up_front(
    runner: CliRunner, tmp_path: Path, command: str, flag: str, expected: str
) -> None:
    out = ["--out", str(tmp_path / "out")] if command == "run" else []

    done = runner.invoke(app, [command, _file(tmp_path, "list.csv", "word\nhola\n"), "-l", flag, "--level", "A1", *out])

    assert done.exit_code == ExitCode.USAGE
    assert done.stderr == expected
    assert not (tmp_path / "out").exists()


def test_a_language_code_is_standardised(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(app, ["validate", _file(tmp_path, "list.csv", "word\nolá\n"), "-l", "pt_BR", "--json"])

    assert json.loads(done.stdout)["language"] == "pt-br"


@pytest.mark.parametrize(
    ("provider", "code"), [(["--provider", "offline"], ExitCode.USAGE), ([], ExitCode.MISSING_CREDENTIALS)]
)
def test_a_run_the_offline_generator_cannot_serve_is_refused_before_running(
    runner: CliRunner, tmp_path: Path, provider: list[str], code: ExitCode
) -> None:
    # Given French and no LLM: chosen offline, or offline because no key is set (auto)
    out = tmp_path / "out"

    done = runner.invoke(
        app,
        [
            "run",
            _file(tmp_path, "fr.csv", "word\nbonjour\n"),
            "-l",
            "fr",
            "--level",
            "A1",
            "--out",
            str(out),
            *provider,
        ],
    )

    assert done.exit_code == code
    assert "no items for fr (offline items exist for zh, ja, ko, es)" in " ".join(done.stderr.split())
    assert "ANTHROPIC_API_KEY" in done.stderr
    assert not out.exists()


def test_a_lone_surrogate_is_refused_by_the_real_command_without_a_traceback(tmp_path: Path) -> None:
    path = _file(tmp_path, "list.json", '[{"word": "\\ud83d", "definition": "\\u001b[2J"}]')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "HAVACHAT_"))}

    done = subprocess.run(
        [sys.executable, "-m", "havachat_local.cli", "validate", path],
        env={**env, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    assert done.returncode == ExitCode.INVALID_INPUT
    assert "Traceback" not in done.stderr
    assert "list.json, row 1, column 'word': a lone UTF-16 surrogate \\ud83d" in done.stderr
