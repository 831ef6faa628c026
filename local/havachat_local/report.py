"""`report.html`: one self-contained page per run to read its items and see what it cost.

Items filterable by category (and by reading flags, and by text), flagged readings and coverage gaps
highlighted, tokens, cost and LLM time per category as inline SVG bar charts. No network: the CSS and the
script are inline and the page's Content-Security-Policy allows only its own script (by hash), so a word
that slipped through escaping could still not run anything. Every text from the run is HTML-escaped
(Jinja2 autoescape).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from havachat.ledger import UsageTotals
from havachat.models import Category, LearningItem, ReadingFlag
from havachat.pipeline.contracts import RunSummary

REPORT_FILE = "report.html"
MISSED_WORDS_SHOWN = 200  # per category; a 20,000-word list can miss thousands
_CHART_WIDTH = 460
_LABEL_WIDTH = 130
_VALUE_WIDTH = 90
_ROW_HEIGHT = 20

_SCRIPT = """
(() => {
  const select = document.getElementById("category-filter");
  const flaggedOnly = document.getElementById("flagged-only");
  const search = document.getElementById("search");
  const shown = document.getElementById("shown-count");
  const items = Array.from(document.querySelectorAll("article.item"));
  function apply() {
    const category = select.value;
    const needle = search.value.trim().toLowerCase();
    let count = 0;
    for (const item of items) {
      const visible = (!category || item.dataset.category === category)
        && (!flaggedOnly.checked || item.dataset.flagged === "yes")
        && (!needle || item.textContent.toLowerCase().includes(needle));
      item.hidden = !visible;
      if (visible) count += 1;
    }
    shown.textContent = `${count} of ${items.length} items shown`;
  }
  select.addEventListener("change", apply);
  flaggedOnly.addEventListener("change", apply);
  search.addEventListener("input", apply);
})();
"""
_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

_env = Environment(
    loader=PackageLoader("havachat_local", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class _Segment:
    kind: str
    x: float
    width: float
    label: str


@dataclass
class _Row:
    category: str
    y: int
    segments: list[_Segment]
    end: float
    label: str


@dataclass
class _Chart:
    name: str
    title: str
    rows: list[_Row]
    legend: str = ""
    width: int = _CHART_WIDTH
    label_width: int = _LABEL_WIDTH
    height: int = 0


@dataclass
class _CategoryRow:
    name: str
    items: int
    items_here: int
    coverage: str
    flags: str
    input_tokens: int
    output_tokens: int
    cost: float
    latency: str
    missed: list[str] = field(default_factory=list)
    missed_more: int = 0


def write_report(directory: Path, summary: RunSummary, items: Sequence[LearningItem]) -> Path:
    """Write `directory/report.html` for the run and return its path."""
    path = directory / REPORT_FILE
    path.write_text(render_report(summary, items), encoding="utf-8")
    return path


def render_report(summary: RunSummary, items: Sequence[LearningItem]) -> str:
    categories = _categories(summary, items)
    # usage the run recorded under other names than a category's (e.g. the prompt-cache warm-up call)
    usage_only = sorted(set(summary.usage_by_category) - set(categories))
    return _env.get_template("report.html.j2").render(
        s=summary,
        items=items,
        categories=[_category_row(name, summary, items) for name in categories + usage_only],
        charts=_charts(categories, usage_only, summary),
        script=Markup(_SCRIPT),  # a constant: escaping it would break it and its hash
        script_hash=_SCRIPT_HASH,
        percent=_percent,
        usd=_usd,
        input_tokens=_input_tokens,
        flags_of=_flags_by_example,
    )


def _categories(summary: RunSummary, items: Sequence[LearningItem]) -> list[str]:
    """Every category the run counted, covered, spent on, failed or produced, in the pipeline's order."""
    order = [c.value for c in Category]
    seen = {
        *summary.counts_by_category,
        *summary.coverage.by_category,
        *(batch.category.value for batch in summary.failed_batches),
        *(name for name in summary.usage_by_category if name in order),
        *(item.category.value for item in items),
    }
    return sorted(seen, key=lambda name: (order.index(name) if name in order else len(order), name))


def _category_row(name: str, summary: RunSummary, items: Sequence[LearningItem]) -> _CategoryRow:
    usage = summary.usage_by_category.get(name, UsageTotals())
    readings = summary.readings.by_category.get(name)
    missed = summary.coverage.missed_by_category.get(name, [])
    coverage = summary.coverage.by_category.get(name)
    return _CategoryRow(
        name=name,
        items=summary.counts_by_category.get(name, 0),
        items_here=sum(1 for item in items if item.category.value == name),
        coverage=_percent(coverage) if coverage is not None else "—",
        flags=f"{readings.mismatches} mismatched · {readings.ambiguous} ambiguous" if readings else "—",
        input_tokens=_input_tokens(usage),
        output_tokens=usage.output_tokens,
        cost=usage.cost_usd,
        latency=_seconds(usage),
        missed=missed[:MISSED_WORDS_SHOWN],
        missed_more=max(0, len(missed) - MISSED_WORDS_SHOWN),
    )


def _charts(categories: list[str], usage_only: list[str], summary: RunSummary) -> list[_Chart]:
    usage = {name: summary.usage_by_category.get(name, UsageTotals()) for name in categories + usage_only}
    return [
        _bar_chart(
            "items",
            "Items",
            {n: [("items", summary.counts_by_category.get(n, 0))] for n in categories},
            lambda total: f"{total:,.0f}",
        ),
        _bar_chart(
            "tokens",
            "Tokens",
            {n: _token_segments(u) for n, u in usage.items()},
            lambda total: f"{total:,.0f}",
            legend="blue: input · light blue: cache write + read · orange: output",
        ),
        _bar_chart("cost", "Cost (USD)", {n: [("cost", u.cost_usd)] for n, u in usage.items()}, _usd),
        _bar_chart(
            "latency",
            "LLM time (sum of calls)",
            {n: [("latency", u.latency_ms)] for n, u in usage.items()},
            _duration,
        ),
    ]


def _bar_chart(
    name: str,
    title: str,
    values: Mapping[str, list[tuple[str, float]]],
    label: Callable[[float], str],
    legend: str = "",
) -> _Chart:
    """Horizontal bars, one row per category, each bar stacked from its (kind, value) segments."""
    scale_width = _CHART_WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    largest = max((sum(v for _, v in segments) for segments in values.values()), default=0) or 1
    rows = []
    for index, (category, segments) in enumerate(values.items()):
        x = float(_LABEL_WIDTH)
        drawn = []
        for kind, value in segments:
            width = round(value / largest * scale_width, 1)
            drawn.append(_Segment(kind=kind, x=round(x, 1), width=width, label=label(value)))
            x += width
        total = sum(v for _, v in segments)
        rows.append(_Row(category=category, y=index * _ROW_HEIGHT, segments=drawn, end=round(x, 1), label=label(total)))
    return _Chart(name=name, title=title, rows=rows, legend=legend, height=max(1, len(rows)) * _ROW_HEIGHT + 4)


def _token_segments(usage: UsageTotals) -> list[tuple[str, float]]:
    cached = usage.cache_write_tokens + usage.cache_read_tokens
    return [("input", usage.input_tokens), ("cache", cached), ("output", usage.output_tokens)]


def _flags_by_example(item: LearningItem) -> dict[int, ReadingFlag]:
    return {flag.example: flag for flag in item.reading_flags}


def _input_tokens(usage: UsageTotals) -> int:
    return usage.input_tokens + usage.cache_write_tokens + usage.cache_read_tokens


def _seconds(usage: UsageTotals) -> str:
    if not usage.calls:
        return "—"
    return f"{_duration(usage.latency_ms)} ({_duration(usage.latency_ms / usage.calls)} a call)"


def _duration(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:,.1f} s"


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def _usd(amount: float) -> str:
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"
