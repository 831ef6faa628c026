"""`havachat`: validate, plan, run, export and write Stage 2 content for vocabulary lists from a terminal.

Exit codes (also in the README):
    0 success · 1 run failed · 2 usage error · 3 invalid input · 4 run partial · 5 missing credentials
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections import Counter
from dataclasses import asdict
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from havachat.errors import InvalidVocabFile, MissingCredentials
from havachat.languages.tags import UnknownLanguage, standard_tag
from havachat.models import LearningItem, Level, VocabItem, VocabList
from havachat.pipeline.contracts import RunSummary
from havachat.planning import LatencyModel, compare_designs, estimate_wall_seconds, plan_with_settings, summarise_plan
from havachat.settings import Provider, Settings, resolve_provider
from havachat.vocab import VocabLimits, read_vocab_file
from havachat_local.export import EXPORTERS, ExportFormat

if TYPE_CHECKING:
    from havachat.llm import InstructorClaude
    from havachat.offline import OfflineGenerator

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


def _settings(model: str | None = None, concurrency: int | None = None, provider: Provider | None = None) -> Settings:
    overrides = {"model": model, "map_concurrency": concurrency, "provider": provider}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


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
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
) -> None:
    """Show the batches, tokens, calls, cost and time of a run next to one call per word."""
    settings = _settings(model, concurrency)
    vocab = _load(file, settings, language)
    chosen_language, chosen_level = _context(vocab, language, level)
    run_plan = plan_with_settings(vocab, settings, run_id="plan", language=chosen_language, level=chosen_level)
    summary = summarise_plan(run_plan)
    comparison = compare_designs(run_plan, vocab)
    latency = LatencyModel()
    batched_seconds = estimate_wall_seconds(
        [b.estimated_output_tokens for b in run_plan.batches],
        concurrency=settings.map_concurrency,
        latency=latency,
    )
    per_word_output = math.ceil(comparison.per_word.output_tokens / max(1, comparison.per_word.calls))
    per_word_seconds = estimate_wall_seconds(
        [per_word_output] * comparison.per_word.calls, concurrency=1, latency=latency
    )
    if as_json:
        document = {
            "file": str(file),
            "language": chosen_language,
            "level": str(chosen_level),
            "model": settings.model,
            "concurrency": settings.map_concurrency,
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
    table = Table(title="Estimated cost of a run (list prices, prompt caching on)")
    for column in (
        "design",
        "calls",
        "system-prompt tokens",
        "input tokens",
        "output tokens",
        "cost USD",
        "time",
    ):
        table.add_column(column, justify="left" if column == "design" else "right")
    for name, cost, seconds in (
        ("one call per word, sequential", comparison.per_word, per_word_seconds),
        (f"category batches, {settings.map_concurrency} in parallel", comparison.batched, batched_seconds),
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


@app.command(name="export")
def export_items(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="a run's --out directory")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv, anki (Anki text import) or jsonl")] = (
        ExportFormat.CSV
    ),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")] = None,
) -> None:
    """Export a run's items to CSV (formula-safe), Anki's text import, or JSONL."""
    items_file = run_dir / "items.jsonl"
    if not items_file.exists():
        errors.print(f"[red]✗ {items_file} not found: is {run_dir} the --out directory of `havachat run`?")
        raise typer.Exit(ExitCode.USAGE)
    lines = items_file.read_text(encoding="utf-8").splitlines()
    items = [LearningItem.model_validate_json(line) for line in lines if line.strip()]
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


def _generator(settings: Settings, language: str) -> InstructorClaude | OfflineGenerator:
    """The offline generator (saying in one line what it gives and what needs an LLM), else the LLM."""
    from havachat.offline import OfflineGenerator, offline_note

    if settings.provider is Provider.OFFLINE:
        errors.print(f"[yellow]! {offline_note(language)}[/yellow]", highlight=False)
        return OfflineGenerator()
    return _llm(settings)


@app.command()
def run(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="directory for items.jsonl and run.json")],
    language: LanguageOpt = None,
    level: LevelOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    concurrency: ConcurrencyOpt = None,
) -> None:
    """Run the real state machine and handlers on embedded AWS (moto), calling Claude for each batch."""
    from havachat.offline import has_offline_items, offline_note
    from havachat_local.runner import BatchProgress, LocalPipeline

    # moto notes the state machine fields it does not evaluate: noise for a CLI user.
    logging.getLogger("moto").setLevel(logging.ERROR)
    asked = _settings(model, concurrency, provider)
    settings = resolve_provider(asked)
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

    expected = plan_with_settings(vocab, settings, run_id="progress", language=chosen_language, level=chosen_level)
    per_category = Counter(b.category.value for b in expected.batches)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
    ) as progress:
        tasks = {name: progress.add_task(name, total=total) for name, total in per_category.items()}
        seen: set[str] = set()

        def advance(event: BatchProgress) -> None:
            if event.ok and event.batch_id not in seen:
                seen.add(event.batch_id)
                progress.advance(tasks[event.batch_id.rsplit("-", 1)[0]])

        out.mkdir(parents=True, exist_ok=True)
        lambda_log = out / "lambda.log"
        with (
            lambda_log.open("w", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            LocalPipeline(generator, settings=settings, progress=advance) as pipeline,
        ):
            result = pipeline.run_file(file, language=chosen_language, level=chosen_level.code)
            items = pipeline.read_items(result.run_id) if result.run_id else []
    wall_seconds = time.perf_counter() - started

    summary = result.summary
    if summary is None:
        errors.print(f"[red]✗ the run did not finish: {result.execution_error}: {result.execution_cause}")
        raise typer.Exit(ExitCode.FAILED)
    (out / "items.jsonl").write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")
    (out / "vocab.json").write_text(vocab.model_dump_json(), encoding="utf-8")  # for `havachat content`
    report = {**summary.model_dump(mode="json"), "wall_seconds": round(wall_seconds, 2)}
    (out / "run.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _print_summary(summary, wall_seconds, out)
    raise typer.Exit(_EXIT_BY_STATUS.get(summary.status.value, ExitCode.FAILED))


def _print_summary(summary: RunSummary, wall_seconds: float, out: Path) -> None:
    table = Table(title=f"Run {summary.run_id}: {summary.status.value} in {wall_seconds:.1f} s")
    columns = ("category", "items", "coverage", "readings ✗/?", "calls", "input", "cache write", "cache read")
    for column in (*columns, "output", "cost USD"):
        table.add_column(column, justify="left" if column == "category" else "right")
    readings = summary.readings
    rows = [
        (name, summary.counts_by_category.get(name, 0), summary.coverage.by_category.get(name), usage)
        for name, usage in summary.usage_by_category.items()
    ]
    for name, count, covered, usage in [
        *sorted(rows),
        ("total", summary.items_total, summary.coverage.overall, summary.usage),
    ]:
        flags = readings.by_category.get(name) if name != "total" else readings
        table.add_row(
            name,
            str(count),
            f"{covered:.0%}" if covered is not None else "",
            f"{flags.mismatches}/{flags.ambiguous}" if readings.checked and flags is not None else "",
            str(usage.calls),
            f"{usage.input_tokens:,}",
            f"{usage.cache_write_tokens:,}",
            f"{usage.cache_read_tokens:,}",
            f"{usage.output_tokens:,}",
            f"{usage.cost_usd:.4f}",
        )
    console.print(table)
    console.print(
        f"coverage: {summary.coverage.overall:.0%} of {summary.coverage.words} words are cited by an item; "
        f"merged: {summary.duplicates_removed} duplicates, {summary.merged_similar} same-feature items, "
        f"{summary.merged_with_earlier_runs} features of earlier runs"
    )
    if readings.checked:
        console.print(
            f"readings: {readings.mismatches} mismatched and {readings.ambiguous} ambiguous (heteronym) "
            f"romanizations in {readings.examples_checked} examples; input: {readings.input.filled} filled, "
            f"{readings.input.mismatches} mismatched, {readings.input.ambiguous} ambiguous of {readings.input.checked}"
        )
    if summary.categories_needing_llm:
        errors.print(
            f"[yellow]! offline run: {', '.join(summary.categories_needing_llm)} need an LLM "
            "(set ANTHROPIC_API_KEY, or --provider bedrock)[/yellow]",
            highlight=False,
        )
    for failed in summary.failed_batches:
        errors.print(f"[yellow]! batch {failed.batch_id} failed: {failed.error_type}: {failed.message}")
    for problem in summary.problems:
        errors.print(f"[red]✗ {problem}", markup=False)
    console.print(f"items: {out / 'items.jsonl'}  run record: {out / 'run.json'}  Lambda logs: {out / 'lambda.log'}")


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
    if vocab_file is not None:
        words = _load(vocab_file, settings).items
    elif (run_dir / "vocab.json").exists():
        words = VocabList.model_validate_json((run_dir / "vocab.json").read_text(encoding="utf-8")).items
    else:
        errors.print(f"[yellow]! no {run_dir / 'vocab.json'} and no --vocab: checking against the items' words only")
        words = [VocabItem(word=w) for w in dict.fromkeys(w for item in items for w in item.source_words)]
    try:
        llm = _llm(settings)
    except MissingCredentials as missing:
        errors.print(f"[red]✗ {missing}[/red]", highlight=False)
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
    out = run_dir / "content.json"
    out.write_text(document.model_dump_json(indent=2) + "\n", encoding="utf-8")
    summary = document.summary
    table = Table(title=f"Content of run {document.run_id}")
    for column in ("kind", "requested", "written", "calls", "input", "output", "cost USD"):
        table.add_column(column, justify="left" if column == "kind" else "right")
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
            f"[yellow]! citations checked: {summary.dropped_pieces} piece(s) dropped, {summary.removed_item_ids} "
            f"unknown item id(s) and {summary.removed_vocab_words} unknown word(s) removed"
        )
    if summary.out_of_level_words:
        shown = ", ".join(summary.out_of_level_words[:20])
        errors.print(f"[yellow]! {len(summary.out_of_level_words)} word(s) outside the level: {shown}", markup=False)
    console.print(f"content: {out}")


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


if __name__ == "__main__":
    app()
