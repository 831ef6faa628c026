"""Planning: token estimates, chunking by budget, batch ids and the design comparison."""

from __future__ import annotations

import csv
import itertools
from functools import cache
from pathlib import Path

import pytest

from havachat.models import Category, Level, RunPlan, VocabItem, VocabList
from havachat.planning import (
    RECOMMENDED_CHUNK_TOKEN_BUDGET,
    compare_designs,
    estimate_tokens,
    plan_run,
    summarise_plan,
    system_prompt_tokens,
)
from havachat.prompts import EXPECTED_OUTPUT_TOKENS_PER_ITEM, OUTPUT_TOKEN_HEADROOM, quantity_guidance
from havachat.settings import Settings

VOCAB_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "vocab"
HSK1 = Level.parse("HSK1")
MAX_TOKENS = 8192


@cache
def load_vocab(name: str) -> VocabList:
    """The sample list through `havachat.vocab` when it is there, else straight from the CSV."""
    path = VOCAB_DIR / name
    try:
        from havachat.vocab import read_vocab_file
    except ImportError:  # pragma: no cover - only before the intake module exists
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        items = [
            VocabItem(
                word=row["word"],
                romanization=row.get("romanization") or row.get("reading") or None,
                definition=row.get("definition") or None,
                pos=row.get("pos") or None,
            )
            for row in rows
        ]
        return VocabList(source=str(path), items=items)
    return read_vocab_file(path)


def plan(vocab: VocabList, **overrides: object) -> RunPlan:
    arguments: dict[str, object] = {
        "run_id": "run-1",
        "language": "zh",
        "level": HSK1,
        "model": "claude-sonnet-4-5",
        "chunk_token_budget": RECOMMENDED_CHUNK_TOKEN_BUDGET,
        "max_tokens": MAX_TOKENS,
    } | overrides
    return plan_run(vocab, **arguments)


def chunks_of(run: RunPlan) -> list[tuple[int, int]]:
    return sorted({(b.word_start, b.word_end) for b in run.batches})


def assert_chunks_tile(run: RunPlan) -> None:
    chunks = chunks_of(run)
    assert chunks[0][0] == 0
    assert chunks[-1][1] == run.word_count
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(chunks))


def words(*texts: str) -> VocabList:
    return VocabList(source="test.csv", items=[VocabItem(word=t) for t in texts])


# --- estimate_tokens -----------------------------------------------------------------------------


def test_estimate_counts_cjk_characters_one_token_each() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("こんにちは") == 5
    assert estimate_tokens("안녕하세요") == 5


def test_estimate_counts_latin_text_about_four_characters_per_token() -> None:
    text = "the quick brown fox jumps over the lazy dog " * 20

    assert estimate_tokens(text) == len(text) // 4
    assert estimate_tokens('{"word": "hola"}') > estimate_tokens("  word    hola  ")


def test_estimate_is_deterministic_and_never_undercounts_a_concatenation() -> None:
    parts = ['{"word": "爱", "romanization": "ài"}\n', "abc", "ü", "Привет", "!", "你"]

    assert estimate_tokens("".join(parts)) <= sum(estimate_tokens(p) for p in parts)
    assert estimate_tokens("".join(parts)) == estimate_tokens("".join(parts))


# --- plan_run ------------------------------------------------------------------------------------


def test_hsk1_list_is_one_chunk_so_nine_batches_with_the_recommended_budget() -> None:
    vocab = load_vocab("zh_hsk1.csv")

    run = plan(vocab)

    assert len(vocab.items) == 151
    assert [b.batch_id for b in run.batches] == [f"{c.value}-0000" for c in Category]
    assert {(b.word_start, b.word_end, b.chunk_count) for b in run.batches} == {(0, 151, 1)}
    ranges = {b.category: (b.target_items_min, b.target_items_max) for b in run.batches}
    assert ranges[Category.PRONUNCIATION] == (5, 10)
    assert ranges[Category.CULTURAL] == (2, 3)
    assert ranges[Category.PATTERN] == (3, 7)
    assert all(
        b.estimated_input_tokens + b.estimated_output_tokens <= RECOMMENDED_CHUNK_TOKEN_BUDGET for b in run.batches
    )
    assert (run.run_id, run.language, run.word_count, run.model) == ("run-1", "zh", 151, "claude-sonnet-4-5")
    assert run.prompt_version


def test_settings_budget_is_respected_whatever_its_value() -> None:
    budget = Settings().chunk_token_budget
    run = plan(load_vocab("zh_hsk1.csv"), chunk_token_budget=budget)

    assert_chunks_tile(run)
    assert all(b.estimated_input_tokens + b.estimated_output_tokens <= budget for b in run.batches)


@pytest.mark.scale
def test_5000_word_list_splits_into_balanced_chunks_within_budget_and_max_tokens() -> None:
    vocab = load_vocab("zh_top5000.csv")

    run = plan(vocab)

    chunks = chunks_of(run)
    assert len(chunks) > 1
    assert_chunks_tile(run)
    for category in Category:
        assert sorted((b.word_start, b.word_end) for b in run.batches if b.category is category) == chunks
    for batch in run.batches:
        assert batch.estimated_output_tokens <= MAX_TOKENS * OUTPUT_TOKEN_HEADROOM
        assert batch.estimated_input_tokens + batch.estimated_output_tokens <= RECOMMENDED_CHUNK_TOKEN_BUDGET
        assert batch.chunk_count == len(chunks)
    sizes = [end - start for start, end in chunks]
    assert max(sizes) - min(sizes) <= max(sizes) // 5, sizes
    assert len({b.batch_id for b in run.batches}) == len(run.batches)


def test_plan_is_deterministic() -> None:
    vocab = load_vocab("zh_hsk1.csv")

    assert plan(vocab, chunk_token_budget=5000) == plan(vocab, chunk_token_budget=5000)


def test_smaller_budget_means_more_and_smaller_chunks_with_fewer_items_each() -> None:
    vocab = load_vocab("zh_hsk1.csv")

    big, small = plan(vocab), plan(vocab, chunk_token_budget=5000)

    assert len(chunks_of(small)) > len(chunks_of(big)) == 1
    assert_chunks_tile(small)
    assert [b.batch_id for b in small.batches if b.category is Category.IDIOM] == [
        f"idiom-{i:04d}" for i in range(len(chunks_of(small)))
    ]
    assert max(b.target_items_max for b in small.batches) < max(b.target_items_max for b in big.batches)


def test_max_tokens_limits_the_expected_output_of_a_chunk() -> None:
    run = plan(load_vocab("zh_hsk1.csv"), max_tokens=1024)

    assert len(chunks_of(run)) > 1
    assert all(b.estimated_output_tokens <= 1024 * OUTPUT_TOKEN_HEADROOM for b in run.batches)


def test_context_window_limits_the_input_of_a_chunk() -> None:
    run = plan(load_vocab("zh_hsk1.csv"), chunk_token_budget=1_000_000, context_window_tokens=12_000)

    assert len(chunks_of(run)) > 1
    assert all(b.estimated_input_tokens + MAX_TOKENS <= 12_000 for b in run.batches)


def test_a_word_bigger_than_the_budget_gets_a_chunk_of_its_own() -> None:
    vocab = words("一", "长" * 20_000, "二", "三")

    run = plan(vocab, chunk_token_budget=4_000)

    assert chunks_of(run) == [(0, 1), (1, 2), (2, 4)]
    assert plan(words("长" * 20_000), chunk_token_budget=4_000).batches


def test_categories_can_be_chosen_and_are_not_repeated() -> None:
    run = plan(load_vocab("zh_hsk1.csv"), categories=[Category.CULTURAL, Category.IDIOM, Category.CULTURAL])

    assert [b.batch_id for b in run.batches] == ["cultural-0000", "idiom-0000"]


@pytest.mark.scale
def test_fewer_demanding_categories_allow_bigger_chunks() -> None:
    vocab = load_vocab("zh_top5000.csv")

    every = plan(vocab, chunk_token_budget=8_000)
    cultural = plan(vocab, chunk_token_budget=8_000, categories=[Category.CULTURAL])

    assert len(chunks_of(cultural)) < len(chunks_of(every))


def test_empty_vocab_or_no_categories_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        plan(VocabList(source="empty.csv", items=[]))
    with pytest.raises(ValueError, match="categories"):
        plan(words("一"), categories=[])


def test_output_estimate_matches_the_target_range() -> None:
    run = plan(load_vocab("zh_hsk1.csv"), chunk_token_budget=5000)

    for batch in run.batches:
        assert batch.estimated_output_tokens == batch.target_items_max * EXPECTED_OUTPUT_TOKENS_PER_ITEM
        assert (batch.target_items_min, batch.target_items_max) == quantity_guidance(
            batch.category, batch.word_count, max_tokens=MAX_TOKENS
        )


# --- summaries -----------------------------------------------------------------------------------


def test_summary_adds_up_the_batches() -> None:
    run = plan(load_vocab("zh_hsk1.csv"), chunk_token_budget=5000)

    summary = summarise_plan(run)

    assert summary.batches == len(run.batches) == summary.chunks * summary.categories
    assert summary.categories == 9
    assert summary.words == 151
    assert summary.estimated_input_tokens == sum(b.estimated_input_tokens for b in run.batches)
    assert summary.words_per_chunk_min <= summary.words_per_chunk_max
    assert summary.max_batch_output_tokens == max(b.estimated_output_tokens for b in run.batches)


def test_batched_design_makes_far_fewer_calls_and_sends_the_system_prompt_far_less_often() -> None:
    vocab = load_vocab("zh_hsk1.csv")
    run = plan(vocab)

    comparison = compare_designs(run, vocab)

    assert comparison.per_word.calls == 151
    assert comparison.batched.calls == 9
    assert comparison.per_word.system_prompt_tokens == 151 * system_prompt_tokens()
    assert comparison.batched.system_prompt_tokens == 9 * system_prompt_tokens()
    assert comparison.batched.input_tokens * 4 < comparison.per_word.input_tokens
    assert comparison.per_word.output_tokens >= comparison.batched.output_tokens
    assert comparison.batched.cost_usd < comparison.per_word.cost_usd
    assert comparison.batched.cost_usd_cached <= comparison.batched.cost_usd
    assert comparison.call_reduction == pytest.approx(151 / 9)
    assert comparison.input_token_reduction > 4


def test_cached_estimate_pays_each_chunks_shared_prefix_once_and_only_above_the_models_minimum() -> None:
    from havachat.ledger import price_for
    from havachat.planning import batched_cost

    hsk1 = plan(load_vocab("zh_hsk1.csv"))
    tiny = plan(VocabList(source="tiny.csv", items=[VocabItem(word="爱")]), model="claude-haiku-4-5")

    sonnet = batched_cost(hsk1)
    price = price_for("claude-sonnet-4-5")
    output = sonnet.output_tokens * price.output / 1e6
    # nine calls reading one chunk: well under half the full-price input, above a tenth of it
    assert 0.1 < (sonnet.cost_usd_cached - output) / (sonnet.cost_usd - output) < 0.5
    # a prefix below Haiku 4.5's 4,096-token minimum is not cached: the estimate pays it in full
    assert batched_cost(tiny).cost_usd_cached == batched_cost(tiny).cost_usd
