"""report.html as written: every run text escaped, every category charted, the script allowed by the page's CSP.

What a person sees in a browser is tested in tests/integration/test_report_browser.py (`make browser`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from havachat.ledger import UsageTotals
from havachat.models import Category, Example, LearningItem, Provenance, ReadingFlag, ReadingStatus, VocabWarning
from havachat.pipeline.contracts import FailedBatch, OutputLocation, RunStatus, RunSummary, S3Object
from havachat.postprocess import Coverage
from havachat_local.report import MISSED_WORDS_SHOWN, REPORT_FILE, render_report, write_report

HOSTILE_WORD = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "</script><script>alert(2)</script>"


def _item(category: Category, title: str, *, word: str = "你好", flagged: bool = False) -> LearningItem:
    return LearningItem(
        id=f"zh-{category.value}-{abs(hash(title))}",
        language="zh",
        category=category,
        level_system="HSK",
        level_min="1",
        level_max="1",
        title=title,
        explanation=f"About {word} & more",
        examples=[
            Example(text="你好", romanization="nǐ hǎo", translation="hello"),
            Example(text="行", romanization="háng", translation=HOSTILE_TEXT),
        ],
        source_words=[word],
        provenance=Provenance(run_id="r", batch_id=f"{category.value}-0000", model="m", prompt_version="p"),
        reading_flags=[ReadingFlag(example=1, text="行", given="háng", expected="xíng", status=ReadingStatus.AMBIGUOUS)]
        if flagged
        else [],
    )


def _summary(missed: int = 3) -> RunSummary:
    usage = {
        "pronunciation": UsageTotals(calls=2, attempts=2, input_tokens=900, output_tokens=400, latency_ms=3000),
        "idiom": UsageTotals(calls=1, attempts=1, input_tokens=500, output_tokens=700, cost_usd=0.02, latency_ms=900),
        "cache_warm": UsageTotals(calls=1, attempts=1, cache_write_tokens=2000, latency_ms=500),  # not a category
    }
    return RunSummary(
        run_id="zh_hsk1-abc",
        status=RunStatus.PARTIAL,
        input=S3Object(bucket="b", key="uploads/zh/HSK1/list.csv"),
        output=OutputLocation(bucket="b", items_key="results/i.jsonl", summary_key="results/run.json"),
        language="zh",
        level="HSK 1",
        word_count=missed + 2,
        items_total=3,
        counts_by_category={"pronunciation": 2, "idiom": 1},
        coverage=Coverage(
            words=missed + 2,
            overall=0.5,
            by_category={"pronunciation": 0.4, "idiom": 0.2},
            missed_by_category={"pronunciation": [HOSTILE_WORD, *(f"w{i}" for i in range(missed))], "idiom": []},
        ),
        usage=usage["pronunciation"] + usage["idiom"] + usage["cache_warm"],
        usage_by_category=usage,
        cost_usd=0.02,
        finished_at="2026-01-01T00:00:00+00:00",
        warnings=[VocabWarning(row=4, problem=f"odd word {HOSTILE_WORD}")],
        problems=[HOSTILE_TEXT],
    )


def _items() -> list[LearningItem]:
    return [
        _item(Category.PRONUNCIATION, HOSTILE_WORD, word=HOSTILE_WORD),
        _item(Category.PRONUNCIATION, "Tones", flagged=True),
        _item(Category.IDIOM, "An idiom"),
    ]


def test_every_text_of_the_run_is_escaped() -> None:
    page = render_report(_summary(), _items())

    assert "<img" not in page
    assert page.count("<script") == 1 and page.count("</script>") == 1  # the page's own script only
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "About 你好 &amp; more" in page


def test_the_pages_script_is_the_only_one_its_policy_allows() -> None:
    page = render_report(_summary(), _items())

    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert policy and script
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy.group(1)
    assert "default-src 'none'" in policy.group(1)  # no network: nothing loads from anywhere
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_each_chart_has_a_row_per_category_and_the_table_its_numbers() -> None:
    page = render_report(_summary(), _items())

    charts = dict(re.findall(r'<figure class="chart" data-chart="(\w+)">(.*?)</figure>', page, re.S))
    assert list(charts) == ["items", "tokens", "cost", "latency"]
    rows = {name: re.findall(r'<g class="row" data-category="(\w+)">', chart) for name, chart in charts.items()}
    assert rows.pop("items") == ["pronunciation", "idiom"]
    assert set(map(tuple, rows.values())) == {("pronunciation", "idiom", "cache_warm")}  # usage of no category too
    row = re.search(r'<tr data-category="pronunciation">(.*?)</tr>', page, re.S)
    assert row
    assert "40 %" in row.group(1) and "900 / 400" in row.group(1) and "3.0 s (1.5 s a call)" in row.group(1)


def test_a_flagged_reading_is_marked_on_its_example() -> None:
    page = render_report(_summary(), _items())

    flagged = re.findall(r'<li class="example reading-(\w+)">(.*?)</li>', page, re.S)
    assert len(flagged) == 1
    status, example = flagged[0]
    assert status == "ambiguous" and "háng" in example and "dictionary “xíng”" in example


def test_missed_words_are_listed_up_to_a_cap(tmp_path: Path) -> None:
    path = write_report(tmp_path, _summary(missed=MISSED_WORDS_SHOWN + 5), _items())

    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / REPORT_FILE
    assert page.count('<span class="gap">') == MISSED_WORDS_SHOWN
    assert "… and 6 more" in page


def test_a_failed_run_without_items_says_what_failed() -> None:
    summary = _summary().model_copy(
        update={
            "status": RunStatus.FAILED,
            "items_total": 0,
            "counts_by_category": {},
            "usage_by_category": {},
            "coverage": Coverage(),
            "failed_batches": [
                FailedBatch(batch_id="idiom-0000", category=Category.IDIOM, error_type="LlmThrottled", message="429")
            ],
            "error": {"Error": "States.TaskFailed", "Cause": "boom"},
        }
    )

    page = render_report(summary, [])

    assert 'class="status-FAILED">FAILED<' in page
    assert "Batch <code>idiom-0000</code> (idiom) failed: LlmThrottled: 429" in page
    assert "States.TaskFailed" in page and "0 of 0 items shown" in page
    assert re.findall(r'<g class="row" data-category="(\w+)">', page) == ["idiom"] * 4  # its batch failed
