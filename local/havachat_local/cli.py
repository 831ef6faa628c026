"""`havachat`: validate, plan, run, export and write Stage 2 content for vocabulary lists from a terminal.

Exit codes (also in the README):
    0 success · 1 run failed · 2 usage error · 3 invalid input · 4 run partial · 5 missing credentials
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from havachat.cost_cap import estimated_cost_usd, refusal
from havachat.errors import InvalidVocabFile, MissingCredentials
from havachat.languages.dictionary import fill_from_dictionaries
from havachat.languages.tags import UnknownLanguage, standard_tag
from havachat.models import LearningItem, Level, VocabItem, VocabList
from havachat.pipeline.contracts import RunSummary
from havachat.planning import LatencyModel, compare_designs, estimate_wall_seconds, plan_with_settings, summarise_plan
from havachat.rate_limits import map_concurrency
from havachat.settings import LlmMode, Provider, Settings, resolve_provider
from havachat.vocab import VocabLimits, read_vocab_file
from havachat_local.export import EXPORTERS, ExportFormat, write_apkg

if TYPE_CHECKING:
    from havachat.content.models import ContentDocument
    from havachat.llm import InstructorClaude
    from havachat.offline import OfflineGenerator
    from havachat_local.runner import BatchProgress, LocalPipeline
    from havachat_local.state import LocalState

app = typer.Typer(
    help="Turn a vocabulary list into validated language-learning items with Claude.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INVALID_INPUT = 3
    PARTIAL = 4
    MISSING_CREDENTIALS = 5


def _language_flag(code: str | None) -> str | None:
    """`--language` as a standard BCP 47 code; anything else is refused (exit 2), a language name with its code."""
    if code is None:
        return None
    try:
        return standard_tag(code)
    except UnknownLanguage as unknown:
        errors.print(f"✗ --language: {unknown}", style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.USAGE) from None


FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, TSV, JSON or JSONL vocab file")]
LanguageOpt = Annotated[
    str | None,
    typer.Option("--language", "-l", help="BCP 47 code, e.g. zh, ja, es, pt-BR", callback=_language_flag),
]
LevelOpt = Annotated[str | None, typer.Option("--level", help="e.g. HSK1, N5, A1, TOPIK1 or any label")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Claude model id (default from settings)")]
ConcurrencyOpt = Annotated[int | None, typer.Option("--concurrency", min=1, help="batches in flight at once")]
MaxCostOpt = Annotated[
    float | None,
    typer.Option(
        "--max-cost", min=0, metavar="USD", help="the run's cost cap (0: none; default HAVACHAT_MAX_RUN_COST_USD)"
    ),
]
LlmModeOpt = Annotated[
    LlmMode | None,
    typer.Option(
        "--llm-mode",
        help="sync, or batch: the Message Batches API at half price, answered within 24 h "
        "(default HAVACHAT_LLM_MODE; anthropic provider only)",
    ),
]
LOCAL_BATCH_POLL_SECONDS = 5
"""Seconds between two polls of a Message Batch in a local run, unless HAVACHAT_BATCH_POLL_SECONDS says."""


_WARNINGS_SHOWN = 20


def _load(file: Path, settings: Settings, language: str | None = None) -> VocabList:
    """The vocab file read (its words' scripts checked against `language`), its warnings printed; exit 3 if rejected."""
    try:
        vocab = read_vocab_file(file, VocabLimits.from_settings(settings), language)
    except InvalidVocabFile as invalid:
        errors.print(f"[red]✗ {file} was rejected ({len(invalid.problems)} problem(s)):[/red]")
        for problem in invalid.problems:
            errors.print(f"  • {problem}", markup=False)
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    for warning in vocab.warnings[:_WARNINGS_SHOWN]:
        errors.print(f"! {file}, {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    if len(vocab.warnings) > _WARNINGS_SHOWN:
        more = len(vocab.warnings) - _WARNINGS_SHOWN
        errors.print(
            f"! and {more} more warnings: `havachat validate {file} --json` lists them", style="yellow", markup=False
        )
    return vocab


def _context(vocab: VocabList, language: str | None, level: str | None) -> tuple[str, Level]:
    """Language and level from the flags, else from the file's JSON envelope."""
    chosen_language = (language or vocab.language or "").lower()
    chosen_level = Level.parse(level) if level else vocab.level
    if not chosen_language or chosen_level is None:
        missing = " and ".join(n for n, v in (("--language", chosen_language), ("--level", chosen_level)) if not v)
        errors.print(f"[red]✗ {vocab.source}: say which {missing} this list is for (e.g. --language zh --level HSK1)")
        raise typer.Exit(ExitCode.USAGE)
    return chosen_language, chosen_level


def _settings(
    model: str | None = None,
    concurrency: int | None = None,
    provider: Provider | None = None,
    max_cost: float | None = None,
    llm_mode: LlmMode | None = None,
) -> Settings:
    overrides = {
        "model": model,
        "map_concurrency": concurrency,
        "provider": provider,
        "max_run_cost_usd": max_cost,
        "llm_mode": llm_mode,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if "HAVACHAT_BATCH_POLL_SECONDS" not in os.environ:  # the deployed default (60 s) is long for a local run
        settings = settings.model_copy(update={"batch_poll_seconds": LOCAL_BATCH_POLL_SECONDS})
    return settings


JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


@app.command()
def validate(file: FileArg, language: LanguageOpt = None, level: LevelOpt = None, as_json: JsonOpt = False) -> None:
    """Check a vocab file; list every problem and warning with its row. Exit 3 if it is rejected.

    The words' scripts are checked against the language (the flag, else the JSON envelope's). `--json`
    prints `{"entries", "warnings": [{"row", "problem"}], "problems": [{"file", "row", "column", "problem"}]}`.
    """
    if not as_json:
        vocab = _load(file, Settings(), language)
        kinds = {item.kind.value for item in vocab.items}
        console.print(f"[green]✓[/green] {file}: {len(vocab.items)} entries ({', '.join(sorted(kinds))}), valid")
        return
    try:
        vocab = read_vocab_file(file, VocabLimits.from_settings(Settings()), language)
    except InvalidVocabFile as invalid:
        rejected = {"file": str(file), "entries": [], "warnings": [], "problems": [asdict(p) for p in invalid.problems]}
        typer.echo(json.dumps(rejected, ensure_ascii=False, indent=2))
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    chosen_level = Level.parse(level) if level else vocab.level
    document = {
        "file": str(file),
        "language": language or vocab.language,
        "level": str(chosen_level) if chosen_level else None,
        "entries": [item.model_dump(mode="json") for item in vocab.items],
        "warnings": [warning.model_dump(mode="json") for warning in vocab.warnings],
        "problems": [],
    }
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@app.command()
def plan(
    file: FileArg,
    language: LanguageOpt = None,
    level: LevelOpt = None,
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_cost: MaxCostOpt = None,
    llm_mode: LlmModeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    provider: Annotated[
        Provider | None,
        typer.Option("--provider", help="check this provider's credentials first (exit 5 without them)"),
    ] = None,
) -> None:
    """Show the batches, tokens, calls, cost and time of a run next to one call per word."""
    if provider is not None:
        _check_credentials(provider)
    settings = _settings(model, concurrency, max_cost=max_cost, llm_mode=llm_mode)
    vocab = _load(file, settings, language)
    chosen_language, chosen_level = _context(vocab, language, level)
    vocab = fill_from_dictionaries(vocab, chosen_language)  # as Plan plans it
    run_plan = plan_with_settings(vocab, settings, run_id="plan", language=chosen_language, level=chosen_level)
    summary = summarise_plan(run_plan)
    comparison = compare_designs(run_plan, vocab)
    latency = LatencyModel()
    in_flight = map_concurrency(run_plan, settings)  # as Plan decides it: lowered to the rate limits
    batched_seconds = estimate_wall_seconds(
        [b.estimated_output_tokens for b in run_plan.batches],
        concurrency=in_flight,
        latency=latency,
    )
    per_word_output = math.ceil(comparison.per_word.output_tokens / max(1, comparison.per_word.calls))
    per_word_seconds = estimate_wall_seconds(
        [per_word_output] * comparison.per_word.calls, concurrency=1, latency=latency
    )
    estimate = estimated_cost_usd(run_plan, batch=settings.llm_mode is LlmMode.BATCH)
    over_cap = refusal(estimate, settings.max_run_cost_usd, summary.batches) is not None
    if as_json:
        document = {
            "file": str(file),
            "language": chosen_language,
            "level": str(chosen_level),
            "model": settings.model,
            "concurrency": in_flight,
            "max_cost_usd": settings.max_run_cost_usd or None,
            "llm_mode": settings.llm_mode.value,
            "estimated_cost_usd": round(estimate, 6),
            "over_cost_cap": over_cap,
            "summary": summary.model_dump(),
            "warnings": [warning.model_dump(mode="json") for warning in vocab.warnings],
            "batches": [b.model_dump(mode="json") for b in run_plan.batches],
            "designs": {
                "one_call_per_word": {
                    **comparison.per_word.model_dump(),
                    "wall_seconds": round(per_word_seconds, 1),
                },
                "batched": {**comparison.batched.model_dump(), "wall_seconds": round(batched_seconds, 1)},
            },
        }
        console.print_json(json.dumps(document, ensure_ascii=False))
        return

    console.print(
        f"[bold]{file.name}[/bold]: {summary.words} words, {chosen_language} {chosen_level}, {settings.model}; "
        f"{summary.chunks} chunk(s) x {summary.categories} categories = {summary.batches} batches"
    )
    table = _table("Estimated cost of a run: tokens, list prices, prompt caching on")
    table.add_column("design", overflow="fold")
    _figures(table, "calls", "sys prompt", "input", "output", "cost USD", "time")
    for name, cost, seconds in (
        ("one call per word, sequential", comparison.per_word, per_word_seconds),
        (f"category batches, {in_flight} in parallel", comparison.batched, batched_seconds),
    ):
        table.add_row(
            name,
            f"{cost.calls:,}",
            f"{cost.system_prompt_tokens:,}",
            f"{cost.input_tokens:,}",
            f"{cost.output_tokens:,}",
            f"{cost.cost_usd_cached:.2f}",
            f"{seconds:,.0f} s",
        )
    console.print(table)
    if settings.max_run_cost_usd:
        verdict = "[red]over it: a run would be refused" if over_cap else "[green]within it"
        console.print(f"cost cap ${settings.max_run_cost_usd:.2f}: the batched estimate ${estimate:.2f} is {verdict}")
    if settings.llm_mode is LlmMode.BATCH:
        console.print(
            f"--llm-mode batch: about ${estimate:.2f} (half the list price, no prompt caching counted), "
            "answered within 24 hours"
        )


@app.command(name="export")
def export_items(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="a run's --out directory")],
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="csv, anki (Anki text import), apkg (Anki deck) or jsonl"),
    ] = ExportFormat.CSV,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout; apkg: RUN_DIR/items.apkg)")
    ] = None,
) -> None:
    """Export a run's items to CSV (formula-safe), Anki's text import, an Anki deck (.apkg), or JSONL."""
    items_file = run_dir / "items.jsonl"
    if not items_file.exists():
        errors.print(f"[red]✗ {items_file} not found: is {run_dir} the --out directory of `havachat run`?")
        raise typer.Exit(ExitCode.USAGE)
    lines = items_file.read_text(encoding="utf-8").splitlines()
    items = [LearningItem.model_validate_json(line) for line in lines if line.strip()]
    if fmt is ExportFormat.APKG:
        deck = write_apkg(items, out or run_dir / "items.apkg")
        errors.print(f"[green]✓[/green] {len(items)} items written to {deck}")
        return
    text = EXPORTERS[fmt](items)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        errors.print(f"[green]✓[/green] {len(items)} items written to {out}")


ProviderOpt = Annotated[
    Provider | None,
    typer.Option(
        "--provider",
        help="auto (default: anthropic if ANTHROPIC_API_KEY is set, else offline), anthropic (API key), "
        "bedrock (IAM) or offline (no LLM: dictionary-derived pronunciation and writing-system items)",
    ),
]
_EXIT_BY_STATUS = {"SUCCEEDED": ExitCode.OK, "PARTIAL": ExitCode.PARTIAL, "FAILED": ExitCode.FAILED}


def _llm(settings: Settings) -> InstructorClaude:
    """The LLM adapter, with credentials resolved now (before moto replaces the AWS environment)."""
    from havachat.llm import AwsCredentials, make_llm

    credentials = None
    if settings.provider is Provider.BEDROCK:
        import boto3

        found = boto3.Session().get_credentials()
        if found is None:
            raise MissingCredentials(
                "No AWS credentials for Bedrock: configure a profile or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "or use --provider anthropic with ANTHROPIC_API_KEY."
            )
        frozen = found.get_frozen_credentials()
        credentials = AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    return make_llm(settings, aws_credentials=credentials)


def _check_credentials(provider: Provider) -> None:
    """Exit 5 with one line now if the provider asked for has no credentials."""
    settings = resolve_provider(_settings(provider=provider))
    if settings.provider in (Provider.ANTHROPIC, Provider.BEDROCK):
        try:
            _llm(settings)
        except MissingCredentials as missing:
            raise _fail(str(missing), ExitCode.MISSING_CREDENTIALS) from None


def _generator(settings: Settings, language: str) -> InstructorClaude | OfflineGenerator:
    """The offline generator (saying in one line what it gives and what needs an LLM), else the LLM."""
    from havachat.offline import OfflineGenerator, offline_note

    if settings.llm_mode is LlmMode.BATCH and settings.provider is not Provider.ANTHROPIC:
        service = "Bedrock" if settings.provider is Provider.BEDROCK else "the offline generator"
        note = f"Message Batches mode needs the Anthropic API: with {service} the run goes on in sync mode"
        errors.print(f"[yellow]! {note}[/yellow]", highlight=False)
    if settings.provider is Provider.OFFLINE:
        errors.print(f"[yellow]! {offline_note(language)}[/yellow]", highlight=False)
        return OfflineGenerator()
    return _llm(settings)


OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="also copy the run's outputs here (every run keeps its own in HAVACHAT_HOME/runs/RUN_ID)",
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="let --out replace the outputs of a run HAVACHAT_HOME does not keep")
]


def _fail(message: str, code: ExitCode) -> typer.Exit:
    """One red line on stderr; the exit to raise."""
    errors.print(f"✗ {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _state(settings: Settings) -> LocalState:
    from havachat_local.state import LocalState, home_dir

    return LocalState(home_dir(settings))


def _checked_out(out: Path | None, state: LocalState, force: bool) -> None:
    from havachat_local.outputs import OutTaken, check_out

    if out is None:
        return
    try:
        check_out(out, state, force)
    except OutTaken as taken:
        raise _fail(str(taken), ExitCode.USAGE) from None


@contextlib.contextmanager
def _pipeline(
    generator: InstructorClaude | OfflineGenerator,
    settings: Settings,
    state: LocalState,
    progress: Callable[[BatchProgress], None],
) -> Iterator[tuple[LocalPipeline, Path]]:
    """The local pipeline on HAVACHAT_HOME's state, the functions' output going to a log file (yielded)."""
    from havachat_local.runner import LocalPipeline
    from havachat_local.state import RUNS_DIR, StateInUse

    # moto notes the state machine fields it does not evaluate: noise for a CLI user.
    logging.getLogger("moto").setLevel(logging.ERROR)
    log_path = state.home / RUNS_DIR / f".lambda-{uuid.uuid4().hex[:8]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            log_path.open("w", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            LocalPipeline(generator, settings=settings, progress=progress, state=state) as pipeline,
        ):
            for run_id in pipeline.interrupted:
                errors.print(
                    f"! run {run_id} was interrupted (its process ended mid-run): `havachat resume {run_id}` "
                    "finishes it with only the missing calls",
                    style="yellow",
                    markup=False,
                    highlight=False,
                )
            yield pipeline, log_path
    except StateInUse as in_use:
        raise _fail(str(in_use), ExitCode.USAGE) from None
    finally:
        log_path.unlink(missing_ok=True)


def _keep_log(log_path: Path, run_dir: Path) -> None:
    """The invocation's function logs appended to the run's `lambda.log`."""
    from havachat_local.outputs import LOG

    sys.stdout.flush()  # the log itself, while the functions' output is redirected to it
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / LOG).open("a", encoding="utf-8") as kept:
        kept.write(log_path.read_text(encoding="utf-8"))


def _stage_two(pipeline: LocalPipeline, run_id: str) -> tuple[ContentDocument | None, str | None]:
    """Deliver the completion event to Content as the template's rule matches it: the run's content, or the failure."""
    from havachat.content.models import ContentDocument
    from havachat.pipeline.keys import ContentKeys

    deliveries = pipeline.deliver()
    if not deliveries:
        return None, "the run's completion event did not match the content rule (a FAILED run or no items)"
    failed = next((d for d in deliveries if d.failed), None)
    if failed is not None:
        return None, f"{failed.response.get('errorType')}: {failed.response.get('errorMessage')}"
    assert pipeline.deps is not None
    data = pipeline.deps.store.get_json(ContentKeys(run_id).content)
    return (ContentDocument.model_validate(data) if data is not None else None), None


@app.command()
def run(
    file: FileArg,
    out: OutOpt = None,
    language: LanguageOpt = None,
    level: LevelOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_cost: MaxCostOpt = None,
    llm_mode: LlmModeOpt = None,
    with_content: Annotated[
        bool,
        typer.Option("--content", help="then Stage 2 (conversations and stories), as the template's rule triggers it"),
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Run the real state machine and handlers on embedded AWS (moto), calling Claude for each batch.

    The embedded AWS keeps its state in HAVACHAT_HOME: the same file again reuses the earlier run's
    outputs (no LLM call), a PARTIAL run can be finished with `havachat resume`.
    """
    from havachat.offline import has_offline_items, offline_note
    from havachat_local.outputs import copy_to_out, write_run

    asked = _settings(model, concurrency, provider, max_cost, llm_mode)
    settings = resolve_provider(asked)
    state = _state(settings)
    _checked_out(out, state, force)
    vocab = _load(file, settings, language)
    chosen_language, chosen_level = _context(vocab, language, level)
    if settings.provider is Provider.OFFLINE and not has_offline_items(chosen_language):
        errors.print(f"✗ {offline_note(chosen_language)}", style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.USAGE if asked.provider is Provider.OFFLINE else ExitCode.MISSING_CREDENTIALS)
    try:
        generator = _generator(settings, chosen_language)
    except MissingCredentials as missing:
        errors.print(f"[red]✗ {missing}[/red]", highlight=False)
        raise typer.Exit(ExitCode.MISSING_CREDENTIALS) from None

    started = time.perf_counter()
    content: ContentDocument | None = None
    content_failure: str | None = None
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
    ) as progress:
        tasks: dict[str, TaskID] = {}
        seen: set[str] = set()
        lock = threading.Lock()

        def advance(event: BatchProgress) -> None:  # from the batches' threads
            with lock:
                if not tasks:  # the first batch: Plan's plan names the bars and their totals
                    for name, total in pipeline.planned_batches(event.run_id).items():
                        tasks[name] = progress.add_task(name, total=total)
                if event.ok and event.batch_id not in seen:
                    seen.add(event.batch_id)
                    progress.advance(tasks[event.batch_id.rsplit("-", 1)[0]])

        with _pipeline(generator, settings, state, advance) as (pipeline, log_path):
            if with_content:
                pipeline.subscribe_functions()
            result = pipeline.run_file(file, language=chosen_language, level=chosen_level.code)
            summary = result.summary  # a run refused by Plan (FAILED) wrote no items.jsonl
            items = pipeline.read_items(result.run_id) if result.run_id and summary and summary.items_total else []
            if with_content and result.run_id and result.summary is not None:
                content, content_failure = _stage_two(pipeline, result.run_id)
            if result.run_id:
                _keep_log(log_path, state.run_dir(result.run_id))
    wall_seconds = time.perf_counter() - started

    summary = result.summary
    if summary is None:
        raise _fail(f"the run did not finish: {result.execution_error}: {result.execution_cause}", ExitCode.FAILED)
    run_dir = state.run_dir(summary.run_id)
    write_run(run_dir, summary, items, wall_seconds=wall_seconds, vocab=vocab, content=content)
    if out is not None:
        copy_to_out(run_dir, out)
    _print_summary(summary, wall_seconds, out or run_dir, offline_noted=settings.provider is Provider.OFFLINE)
    if out is not None:
        console.print(f"kept in {run_dir}", highlight=False, soft_wrap=True)
    if content is not None:
        _print_content(content, out or run_dir)
    code = _EXIT_BY_STATUS.get(summary.status.value, ExitCode.FAILED)
    if content_failure is not None:
        errors.print(f"✗ Stage 2: {content_failure}", style="red", markup=False, highlight=False, soft_wrap=True)
        code = ExitCode.FAILED if code is ExitCode.OK else code
    raise typer.Exit(code)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="the run's id (or its start), from `havachat runs`")],
    out: OutOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_cost: MaxCostOpt = None,
    llm_mode: LlmModeOpt = None,
    force: ForceOpt = False,
) -> None:
    """Finish a PARTIAL or FAILED run: only its failed (or never finished) batches call the LLM again."""
    from havachat_local.outputs import UnknownRun, copy_to_out, find_run, write_run

    settings = resolve_provider(_settings(model, concurrency, provider, max_cost, llm_mode))
    state = _state(settings)
    _checked_out(out, state, force)
    try:
        record = find_run(state, run_id)
    except UnknownRun as unknown:
        raise _fail(str(unknown), ExitCode.USAGE) from None
    try:
        generator = _generator(settings, record.language or "")
    except MissingCredentials as missing:
        raise _fail(str(missing), ExitCode.MISSING_CREDENTIALS) from None

    started = time.perf_counter()
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), console=errors) as progress:
        task = progress.add_task("batches", total=record.batch_count or None)
        seen: set[str] = set()

        def advance(event: BatchProgress) -> None:
            if event.ok and event.batch_id not in seen:
                seen.add(event.batch_id)
                progress.advance(task)

        with _pipeline(generator, settings, state, advance) as (pipeline, log_path):
            result = pipeline.resume(record.run_id)
            items = pipeline.read_items(record.run_id)
            _keep_log(log_path, state.run_dir(record.run_id))
    wall_seconds = time.perf_counter() - started

    summary = result.summary
    if result.duplicate or summary is None:
        status = summary.status.value if summary else record.status.value
        raise _fail(f"run {record.run_id} is {status}: only PARTIAL or FAILED runs resume", ExitCode.USAGE)
    run_dir = state.run_dir(summary.run_id)
    write_run(run_dir, summary, items, wall_seconds=wall_seconds)
    if out is not None:
        copy_to_out(run_dir, out)
    _print_summary(summary, wall_seconds, out or run_dir, offline_noted=settings.provider is Provider.OFFLINE)
    if out is not None:
        console.print(f"kept in {run_dir}", highlight=False, soft_wrap=True)
    raise typer.Exit(_EXIT_BY_STATUS.get(summary.status.value, ExitCode.FAILED))


@app.command(name="runs")
def list_runs() -> None:
    """List the runs HAVACHAT_HOME keeps: id, file, status, items, cost and when, oldest first.

    A run left RUNNING by a process that ended shows INTERRUPTED: `havachat resume RUN` finishes it.
    """
    from havachat_local.outputs import run_records

    state = _state(Settings())
    records = run_records(state)
    if not records:
        console.print(f"no runs yet in {state.home}", highlight=False)
        return
    table = _table()
    table.add_column("run", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("status", overflow="fold")
    _figures(table, "items", "cost USD", "UTC")
    unfinished = ("PLANNING", "RUNNING")
    interrupted = any(r.status.value in unfinished for r in records) and not state.in_use()
    for record in records:
        status = record.status.value
        table.add_row(
            record.run_id,
            record.input.key.rsplit("/", 1)[-1],
            "INTERRUPTED" if interrupted and status in unfinished else status,
            str(record.items_total) if record.items_total is not None else "",
            f"{record.cost_usd:.4f}" if record.cost_usd is not None else "",
            record.created_at[5:16].replace("T", " "),
        )
    console.print(table)
    console.print(f"state: {state.home}", highlight=False, soft_wrap=True)


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="the run's id (or its start), from `havachat runs`")],
) -> None:
    """Print a run's summary, as `havachat run` printed it."""
    from havachat_local.outputs import SUMMARY, UnknownRun, find_run, read_summary

    state = _state(Settings())
    try:
        record = find_run(state, run_id)
    except UnknownRun as unknown:
        raise _fail(str(unknown), ExitCode.USAGE) from None
    run_dir = state.run_dir(record.run_id)
    if not (run_dir / SUMMARY).is_file():
        raise _fail(f"run {record.run_id} is {record.status.value} and has no summary yet", ExitCode.FAILED)
    summary, wall_seconds = read_summary(run_dir)
    _print_summary(summary, wall_seconds, run_dir)


def _table(title: str | None = None) -> Table:
    """A table that fits an 80-column terminal: no vertical rules, figures never cut (their columns do not wrap)."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left")


def _figures(table: Table, *columns: str) -> None:
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)


def _print_summary(summary: RunSummary, wall_seconds: float, out: Path, *, offline_noted: bool = False) -> None:
    """The run's items and cost by category, then its tokens, then what to look at. `offline_noted`: the
    offline notice was printed before the run (it is printed once)."""
    readings = summary.readings
    rows = sorted(
        (name, summary.counts_by_category.get(name, 0), summary.coverage.by_category.get(name), usage)
        for name, usage in summary.usage_by_category.items()
    )
    rows.append(("total", summary.items_total, summary.coverage.overall, summary.usage))
    items = _table(f"Run {summary.run_id}: {summary.status.value} in {wall_seconds:.1f} s")
    items.add_column("category", overflow="fold")
    _figures(items, "items", "coverage", "readings ✗/?", "calls", "cost USD")
    tokens = _table("Tokens")
    tokens.add_column("category", overflow="fold")
    _figures(tokens, "input", "cache write", "cache read", "output")
    for name, count, covered, usage in rows:
        flags = readings.by_category.get(name) if name != "total" else readings
        items.add_row(
            name,
            str(count),
            f"{covered:.0%}" if covered is not None else "",
            f"{flags.mismatches}/{flags.ambiguous}" if readings.checked and flags is not None else "",
            str(usage.calls),
            f"{usage.cost_usd:.4f}",
        )
        tokens.add_row(
            name,
            f"{usage.input_tokens:,}",
            f"{usage.cache_write_tokens:,}",
            f"{usage.cache_read_tokens:,}",
            f"{usage.output_tokens:,}",
        )
    console.print(items)
    console.print(tokens)
    if summary.reused_from:
        console.print(
            f"reused run {summary.reused_from}: its batch outputs were copied, no LLM call for them", highlight=False
        )
    console.print(
        f"coverage: {summary.coverage.overall:.0%} of {summary.coverage.words} words are cited by an item; "
        f"merged: {summary.duplicates_removed} duplicates, {summary.merged_similar} same-feature items, "
        f"{summary.merged_with_earlier_runs} features of earlier runs",
        highlight=False,
    )
    if readings.checked:
        console.print(
            f"readings: {readings.mismatches} mismatched and {readings.ambiguous} ambiguous (heteronym) "
            f"romanizations in {readings.examples_checked} examples; input: {readings.input.filled} filled, "
            f"{readings.input.mismatches} mismatched, {readings.input.ambiguous} ambiguous of {readings.input.checked}",
            highlight=False,
        )
    if summary.categories_needing_llm and not offline_noted:
        errors.print(
            f"! offline run: {', '.join(summary.categories_needing_llm)} need an LLM "
            "(set ANTHROPIC_API_KEY, or --provider bedrock)",
            style="yellow",
            markup=False,
            highlight=False,
        )
    for failed in summary.failed_batches:
        errors.print(
            f"! batch {failed.batch_id} failed: {failed.error_type}: {failed.message}",
            style="yellow",
            markup=False,
            highlight=False,
        )
    for problem in summary.problems:
        errors.print(f"✗ {problem}", style="red", markup=False, highlight=False)
    files = ", ".join(
        name for name in ("items.jsonl", "run.json", "report.html", "lambda.log") if (out / name).exists()
    )
    console.print(f"outputs: {out} ({files})", highlight=False, soft_wrap=True)


def _content_written(run_dir: Path, run_id: str, settings: Settings) -> ContentDocument | None:
    """RUN_DIR/content.json if it is this run's, with as many conversations and stories as asked."""
    from havachat.content.models import ContentDocument

    path = run_dir / "content.json"
    if not path.is_file():
        return None
    document = ContentDocument.model_validate_json(path.read_text(encoding="utf-8"))
    asked = {"conversation": settings.content_conversations, "story": settings.content_stories}
    return document if document.run_id == run_id and document.summary.requested == asked else None


def _print_content(document: ContentDocument, out: Path) -> None:
    summary = document.summary
    table = _table(f"Content of run {document.run_id}")
    table.add_column("kind", overflow="fold")
    _figures(table, "asked", "written", "calls", "input", "output", "cost USD")
    for kind, usage in sorted(summary.usage_by_kind.items()):
        table.add_row(
            kind,
            str(summary.requested.get(kind, 0)),
            str(summary.produced.get(kind, 0)),
            str(usage.calls),
            f"{usage.input_tokens:,}",
            f"{usage.output_tokens:,}",
            f"{usage.cost_usd:.4f}",
        )
    console.print(table)
    if summary.dropped_pieces or summary.removed_item_ids or summary.removed_vocab_words:
        errors.print(
            f"! citations checked: {summary.dropped_pieces} piece(s) dropped, {summary.removed_item_ids} "
            f"unknown item id(s) and {summary.removed_vocab_words} unknown word(s) removed",
            style="yellow",
            highlight=False,
        )
    if summary.out_of_level_words:
        shown = ", ".join(summary.out_of_level_words[:20])
        errors.print(
            f"! {len(summary.out_of_level_words)} word(s) outside the level: {shown}",
            style="yellow",
            markup=False,
            highlight=False,
        )
    console.print(f"content: {out / 'content.json'}", highlight=False, soft_wrap=True)


@app.command()
def content(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="a run's --out directory")],
    conversations: Annotated[int | None, typer.Option("--conversations", min=0, max=100, help="default 3")] = None,
    stories: Annotated[int | None, typer.Option("--stories", min=0, max=100, help="default 3")] = None,
    vocab_file: Annotated[
        Path | None,
        typer.Option("--vocab", exists=True, dir_okay=False, help="the run's vocab file (default RUN_DIR/vocab.json)"),
    ] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
) -> None:
    """Stage 2: conversations and stories from a run's items (RUN_DIR/items.jsonl), written to RUN_DIR/content.json."""
    from havachat.content.generate import ContentGenerationFailed, generate_content_with_settings

    items_file, run_file = run_dir / "items.jsonl", run_dir / "run.json"
    for needed in (items_file, run_file):
        if not needed.exists():
            errors.print(f"[red]✗ {needed} not found: is {run_dir} the --out directory of `havachat run`?")
            raise typer.Exit(ExitCode.USAGE)
    run_record = json.loads(run_file.read_text(encoding="utf-8"))
    lines = items_file.read_text(encoding="utf-8").splitlines()
    items = [LearningItem.model_validate_json(line) for line in lines if line.strip()]
    if not items or not run_record.get("language") or not run_record.get("level"):
        errors.print(
            f"[red]✗ {run_dir}: the run has no items (status {run_record.get('status')}): nothing to write from"
        )
        raise typer.Exit(ExitCode.FAILED)
    overrides = {"content_conversations": conversations, "content_stories": stories}
    settings = _settings(model, None, provider).model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if (earlier := _content_written(run_dir, str(run_record.get("run_id")), settings)) is not None:
        console.print(f"content of run {earlier.run_id} is already written: no call", highlight=False)
        _print_content(earlier, run_dir)
        return
    if vocab_file is not None:
        words = _load(vocab_file, settings).items
    elif (run_dir / "vocab.json").exists():
        words = VocabList.model_validate_json((run_dir / "vocab.json").read_text(encoding="utf-8")).items
    else:
        errors.print(f"[yellow]! no {run_dir / 'vocab.json'} and no --vocab: checking against the items' words only")
        words = [VocabItem(word=w) for w in dict.fromkeys(w for item in items for w in item.source_words)]
    if settings.provider is Provider.OFFLINE:
        raise _fail(
            "conversations and stories need an LLM (the offline provider writes only pronunciation and "
            "writing-system items): set ANTHROPIC_API_KEY, or --provider bedrock with AWS credentials",
            ExitCode.USAGE,
        )
    try:
        llm = _llm(settings)
    except MissingCredentials as missing:
        errors.print(f"[red]✗ conversations and stories need an LLM. {missing}[/red]", highlight=False)
        raise typer.Exit(ExitCode.MISSING_CREDENTIALS) from None

    try:
        document = generate_content_with_settings(
            items,
            words,
            settings,
            run_id=str(run_record.get("run_id") or run_dir.name),
            language=run_record["language"],
            level=Level.parse(run_record["level"]),
            llm=llm,
        )
    except ContentGenerationFailed as failed:
        for chunk_id, error in failed.errors.items():
            errors.print(f"[red]✗ {chunk_id}: {type(error).__name__}: {error}", markup=False)
        raise typer.Exit(
            ExitCode.MISSING_CREDENTIALS
            if all(isinstance(e, MissingCredentials) for e in failed.errors.values())
            else ExitCode.FAILED
        ) from None
    (run_dir / "content.json").write_text(document.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _print_content(document, run_dir)


@app.command(name="local-aws")
def local_aws_server(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="the server's port (0: any free one)")
    ] = 5000,
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (0.0.0.0: also Docker's bridge)")
    ] = "127.0.0.1",
    endpoint_host: Annotated[
        str,
        typer.Option(
            "--endpoint-host",
            help="the server's host as a SAM container reaches it: host.docker.internal (Docker Desktop; on Linux "
            "with --add-host host.docker.internal:host-gateway and --host 0.0.0.0), 127.0.0.1 with sam's "
            "--docker-network host",
        ),
    ] = "host.docker.internal",
    env_vars: Annotated[
        Path, typer.Option("--env-vars", help="where to write the --env-vars file for `sam local invoke`")
    ] = Path(".aws-sam/local-aws/env-vars.json"),
) -> None:
    """Serve the stack's resources on embedded AWS (moto server) for `sam local invoke`, offline, until Ctrl-C."""
    from havachat_local.local_aws import local_aws, names_sample, write_env_vars
    from havachat_local.runner import find_root

    logging.getLogger("moto").setLevel(logging.ERROR)
    root = find_root()
    with local_aws(root, host=host, port=port, endpoint_host=endpoint_host) as stack:
        write_env_vars(stack.env_vars, env_vars)
        local, sample = stack.local, stack.sample
        console.print(f"embedded AWS on {stack.address}; the functions reach it at {stack.endpoint}", soft_wrap=True)
        console.print(f"  sample: s3://{sample.bucket}/{sample.key} version {sample.version_id}", soft_wrap=True)
        console.print(f"  state machine: {local.state_machine_arn}", soft_wrap=True)
        if not names_sample(root, sample):
            errors.print("[yellow]! events/s3_object_created.json names another object: run `make events`[/yellow]")
        flags = f"--env-vars {env_vars} --region {local.settings.aws_region}"
        console.print(f"--env-vars file: {env_vars}. In another terminal:", soft_wrap=True)
        for line in (
            f"sam local invoke PlanFunction -e events/s3_object_created.json {flags}",
            f'for e in events/batches/*.json; do sam local invoke GenerateBatchFunction -e "$e" {flags}; done',
            f"sam local invoke FinalizeFunction -e events/finalize.json {flags}",
            f"sam local invoke ContentFunction -e events/learning_items_generated.json {flags}",
        ):
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        console.print("Ctrl-C stops the server (its state goes with it).")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def main() -> None:
    """The `havachat` command: a usage error as one line (exit 2), a closed pipe (`| head -1`) as a quiet exit 0."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as failed:  # typer's click errors, raised as they are without standalone mode
        if type(failed).__name__ == "NoArgsIsHelpError":
            failed.show()  # type: ignore[attr-defined]
            sys.exit(ExitCode.USAGE)
        context = getattr(failed, "ctx", None)
        where = context.command_path if context is not None else "havachat"
        exit_code = int(getattr(failed, "exit_code", ExitCode.USAGE))
        format_message = getattr(failed, "format_message", None)
        message = format_message() if format_message is not None else str(failed)
        hint = f" (see `{where} --help`)" if exit_code == ExitCode.USAGE else ""
        errors.print(f"✗ {where}: {message}{hint}", style="red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exit_code)
    except typer.Abort:
        errors.print("✗ aborted", style="red", markup=False, highlight=False)
        sys.exit(ExitCode.FAILED)
    except SystemExit as exiting:  # typer turns a closed stdout (EPIPE) into exit 1 after pacifying the streams
        if exiting.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(ExitCode.OK)
        raise
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


if __name__ == "__main__":
    main()
