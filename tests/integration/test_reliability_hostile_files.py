"""Hostile vocab files uploaded to the bucket: a clear error or a stated normalisation, never an LLM call.

Every rejected file runs the real state machine on moto with Claude served on 127.0.0.1, and
must end FAILED with problems naming the file (and the row where one applies), with no request
reaching Claude and nothing written but the failure record `results/<run_id>/run.json`.
"""

from __future__ import annotations

import gzip
import io
import tracemalloc
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from havachat.errors import InvalidVocabFile
from havachat.llm import make_llm
from havachat.pipeline.contracts import RunStatus
from havachat.pipeline.keys import RunKeys
from havachat.settings import Settings
from havachat.vocab import VocabLimits, parse_vocab
from havachat_local.export import safe_cell, to_csv
from havachat_local.runner import LambdaContextStub, LocalPipeline, s3_object_created_event
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 100


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


# (id, key under uploads/zh/HSK1/ unless it starts with "uploads/", bytes, expected text in the problem, row)
REJECTED: list[tuple[str, str, bytes, str, int | None]] = [
    ("utf16-with-bom", "a.csv", "word\n你好\n".encode("utf-16"), "UTF-16 encoded", None),
    ("utf16-without-bom", "a.csv", "word\n你好\n".encode("utf-16-le"), "NUL byte", 1),
    ("cp1252-bytes", "a.csv", "word\ncafé\n".encode("cp1252"), "not valid UTF-8: byte 0xe9", 2),
    ("gbk-bytes", "a.csv", "word\n你好\n".encode("gbk"), "not valid UTF-8: byte 0xc4", 2),
    ("invalid-utf8", "a.csv", b"word\n\xc3\x28\n", "not valid UTF-8", 2),
    ("nul-bytes", "a.csv", b"word\nni\x00hao\n", "NUL byte", 2),
    ("empty", "a.csv", b"", "no vocabulary rows", None),
    ("header-only", "a.csv", b"word,definition\n", "no vocabulary rows", None),
    ("no-word-column", "a.csv", b"foo,bar\n1,2\n", "no word column (found 'foo', 'bar')", 1),
    ("duplicate-headers", "a.csv", b"word,term\na,b\n", "duplicate columns 'word' and 'term'", 1),
    ("ragged-row", "a.csv", b"word,definition\na,b,c\n", "3 cells but the header has 2 columns", 2),
    ("unbalanced-quotes", "a.csv", b'word,definition\n"abc,def\nx,y\n', "unbalanced quotes", 2),
    ("megabyte-field", "a.csv", b"word,definition\nabc," + b"x" * 1_048_576 + b"\n", "characters long", 2),
    (
        "long-field",
        "a.csv",
        b"word,definition\nabc," + b"x" * 600 + b"\n",
        "600 characters long, over the limit of 500",
        2,
    ),
    ("too-many-rows", "a.csv", b"word\n" + b"".join(b"w%d\n" % i for i in range(MAX_ROWS + 5)), "limit of 100", 102),
    ("too-many-bytes", "a.csv", b"word\n" + b"w\n" * (MAX_BYTES // 2 + 10), "over the limit of 2,097,152", None),
    ("deeply-nested-json", "a.json", b"[" * 100 + b"]" * 100, "nested deeper than 20 levels", None),
    ("nan-in-json", "a.json", b'[{"word": NaN}]', "NaN is not valid JSON", None),
    ("duplicate-json-keys", "a.json", b'[{"word": "a", "word": "b"}]', "duplicate key 'word'", 1),
    ("json-scalar", "a.json", b"42", "expected a list of entries", None),
    ("gzip-named-csv", "a.csv", gzip.compress(b"word\nx\n"), "looks like a gzip archive", None),
    ("zip-named-csv", "a.csv", _zip("a.csv", "word\nx\n"), "looks like a zip archive", None),
    ("png-named-csv", "a.csv", b"\x89PNG\r\n\x1a\n" + bytes(32), "looks like a PNG image", None),
    ("broken-jsonl-line", "a.jsonl", b'{"word": "a"}\n{"word": \n', "invalid JSON", 2),
    ("unsupported-extension", "a.xlsx", b"word\nx\n", "unsupported file: extension '.xlsx'", None),
    ("no-level-in-key", "uploads/zh/a.csv", b"word\nx\n", "no level given", None),
    ("lone-surrogate-json", "a.json", b'["\\ud83d"]', "a lone UTF-16 surrogate \\ud83d", 1),
    ("language-name-in-key", "uploads/chinese/HSK1/a.csv", b"word\nx\n", "did you mean 'zh'?", None),
]


@pytest.fixture(scope="module")
def fake() -> FakeClaude:
    return FakeClaude()


@pytest.fixture(scope="module")
def local(fake: FakeClaude) -> Iterator[LocalPipeline]:
    settings = Settings(sdk_max_retries=0, max_file_bytes=MAX_BYTES, max_rows=MAX_ROWS)
    with fake.serve() as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANTHROPIC_BASE_URL", url)
        with LocalPipeline(make_llm(settings, api_key="test-key"), settings=settings, root=ROOT) as pipeline:
            yield pipeline


def _keys(local: LocalPipeline, prefix: str) -> list[str]:
    listed = local.s3.list_objects_v2(Bucket=local.bucket, Prefix=prefix)
    return [obj["Key"] for obj in listed.get("Contents", [])]


@pytest.mark.parametrize(("case", "name", "data", "expected", "row"), REJECTED, ids=[c[0] for c in REJECTED])
def test_a_hostile_file_is_rejected_clearly_with_no_llm_call_and_nothing_written(
    local: LocalPipeline, fake: FakeClaude, case: str, name: str, data: bytes, expected: str, row: int | None
) -> None:
    key = name if name.startswith("uploads/") else f"uploads/zh/HSK1/{case}-{name}"
    with local.capture_events() as drain:
        result = local.run_bytes(data, key)
        events = drain()

    # Then the run failed with a problem naming the file, the row and what is wrong
    assert result.execution_status == "FAILED"
    summary = result.summary
    assert summary is not None and summary.status is RunStatus.FAILED and result.run_id
    assert summary.error is not None and summary.error["Error"] == "InvalidVocabFile"
    assert any(expected in problem for problem in summary.problems), summary.problems
    assert all(problem.startswith(key) for problem in summary.problems)
    if row is not None:
        located = (f"{key}, row {row}:", f"{key}, row {row}, column ")
        assert any(problem.startswith(located) for problem in summary.problems), summary.problems
    assert [e["detail-type"] for e in events] == ["LearningItemsGenerationFailed"]
    # And Claude was never called, and the failure record is all that was written
    assert fake.requests == []
    assert _keys(local, f"scratch/{result.run_id}/") == []
    assert _keys(local, f"results/{result.run_id}/") == [RunKeys(result.run_id).summary]
    assert (
        local.dynamodb.query(
            TableName=local.settings.items_table,
            KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues={":r": {"S": result.run_id}},
        )["Items"]
        == []
    )


NFD = unicodedata.normalize("NFD", "adiós")
# (id, bytes, the words Plan keeps, the rows warned about): accepted after the normalisation README states
NORMALISED: list[tuple[str, bytes, list[str], list[int]]] = [
    ("utf8-bom-stripped", "\ufeffword\n你好\n".encode(), ["你好"], []),
    ("nfc-nfd-duplicates-merged", f"word\n{NFD}\nadiós\n".encode(), ["adiós"], [3]),
    (
        "full-width-letters-folded",
        "word\nＡＢＣ１\nABC1\nｶﾞｯｺｳ\n".encode(),
        ["ABC1", "ガッコウ"],
        [2, 3, 4, 4],
    ),  # 4: folded, and kana under zh
    ("whitespace-collapsed", "word\n  早上\u3000好 \r\n".encode(), ["早上 好"], []),
    ("formula-text-kept-as-data", b"word\n=HYPERLINK(1)\n", ["=HYPERLINK(1)"], []),
    ("zero-width-space-removed", "word\n你\u200b好\n".encode(), ["你好"], [2]),
    ("rtl-override-removed", "word\n\u202eolleh\n".encode(), ["olleh"], [2]),
    ("bidi-isolates-removed", "word\n\u2067你好\u2069\n".encode(), ["你好"], [2]),
    ("mid-file-bom-removed", "word\n你好\n\ufeff再见\n".encode(), ["你好", "再见"], [3]),
    ("ansi-and-bel-removed", b"word,definition\n\x1b[31m\xe4\xbd\xa0\x07,hi\x1b[0m\n", ["你"], [2, 2]),
    ("semicolon-delimited-read", "word;definition\n你好;hello, hi\n".encode(), ["你好"], []),
    ("other-script-warned", "word\n你好\n안녕\nпривет\n".encode(), ["你好", "안녕", "привет"], [3, 4]),
]


@pytest.mark.parametrize(("case", "data", "words", "warned"), NORMALISED, ids=[c[0] for c in NORMALISED])
def test_a_file_needing_a_stated_normalisation_is_planned_normalised_with_each_change_warned(
    local: LocalPipeline, case: str, data: bytes, words: list[str], warned: list[int]
) -> None:
    source = local.upload(data, f"uploads/zh/HSK1/{case}.csv")
    context = LambdaContextStub("PlanFunction", local.function_arns["PlanFunction"])

    output = local.handlers["PlanFunction"]({"event": s3_object_created_event(source, len(data))}, context)

    assert local.deps is not None
    vocab = local.deps.store.get_json(RunKeys(output["run_id"]).vocab)
    assert [item["word"] for item in vocab["items"]] == words
    assert [w["row"] for w in vocab["warnings"] if w["row"] is not None] == warned  # None: the dictionary fill
    assert all(unicodedata.category(c) not in ("Cc", "Cf") for item in vocab["items"] for c in item["word"])


def test_an_oversized_upload_is_read_only_up_to_the_limit(
    local: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 20 MiB upload (ten times the limit)
    data = b"word\n" + b"w\n" * (10 * MAX_BYTES)
    source = local.upload(data, "uploads/zh/HSK1/huge.csv")
    assert local.deps is not None
    client = local.deps.store._s3
    requested: list[dict[str, Any]] = []
    original = client.get_object

    def spy(**kwargs: Any) -> Any:
        requested.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(client, "get_object", spy)
    context = LambdaContextStub("PlanFunction", local.function_arns["PlanFunction"])

    with pytest.raises(InvalidVocabFile, match=f"the file is {len(data):,} bytes, over the limit"):
        local.handlers["PlanFunction"]({"event": s3_object_created_event(source, len(data))}, context)

    # Then Plan asked S3 for the limit plus one byte, not the object
    assert [r["Range"] for r in requested if r["Key"] == source.key] == [f"bytes=0-{MAX_BYTES}"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("rows.csv", b"word\n" + b"".join(b"w%07d\n" % i for i in range(MAX_BYTES // 9))),
        ("field.csv", b"word,definition\nabc," + b"x" * (MAX_BYTES - 32) + b"\n"),
        ("rows.jsonl", b"\n".join(b'{"word":"w%07d"}' % i for i in range(MAX_BYTES // 21))),
        ("rows.json", b"[" + b",".join(b'{"word":"w%07d"}' % i for i in range(MAX_BYTES // 21)) + b"]"),
    ],
)
def test_parsing_a_file_at_the_byte_limit_stays_within_a_fixed_multiple_of_it(name: str, data: bytes) -> None:
    assert len(data) <= MAX_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(InvalidVocabFile):
            parse_vocab(data, name, VocabLimits(max_bytes=MAX_BYTES, max_rows=MAX_ROWS))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MAX_BYTES  # docs/RELIABILITY.md: at most 20x the byte limit (5 MiB -> 100 MB)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_export_neutralises_every_formula_prefix(prefix: str) -> None:
    assert safe_cell(f"{prefix}HYPERLINK(1)") == f"'{prefix}HYPERLINK(1)"
    assert safe_cell(f"a{prefix}b") == f"a{prefix}b"


def test_csv_export_of_an_item_whose_text_starts_with_a_formula() -> None:
    from havachat.models import Category, Example, LearningItem, Provenance

    item = LearningItem(
        id="i1",
        language="zh",
        category=Category.CULTURAL,
        level_system="HSK",
        level_min="1",
        level_max="1",
        title="=cmd|' /C calc'!A0",
        explanation="@SUM(1+1)",
        examples=[Example(text="-2+3", translation="+1"), Example(text="x", translation="y")],
        source_words=["=1"],
        provenance=Provenance(run_id="r", batch_id="b", model="m", prompt_version="p"),
    )

    text = to_csv([item])

    assert "'=cmd" in text and "'@SUM" in text and "'=1" in text and "'-2+3" in text
    assert "\n=" not in text and ",=" not in text and ",@" not in text and ",-" not in text
