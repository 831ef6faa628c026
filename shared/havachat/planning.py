"""Batch planning: chunk the vocabulary by an estimated token budget; one batch per category x chunk.

Token counts here are *estimates* from a cheap local heuristic (`estimate_tokens`), not a tokenizer:
no network call, deterministic, and deliberately on the high side for CJK text. They size chunks and
feed the bench's design comparison; the ledger records the real usage the API reports.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence
from functools import cache

from pydantic import BaseModel, ConfigDict

from havachat.batching import chunk_words
from havachat.ledger import price_for
from havachat.models import (
    OFFLINE_CATEGORIES,
    OFFLINE_MODEL,
    BatchSpec,
    Category,
    LearningItemBatch,
    Level,
    RunPlan,
    VocabItem,
    VocabKind,
    VocabList,
)
from havachat.prompts import (
    EXPECTED_OUTPUT_TOKENS_PER_ITEM,
    GRAMMAR_CATEGORIES,
    PROMPT_VERSION,
    build_user_message,
    max_items_for_tokens,
    min_cacheable_tokens,
    quantity_guidance,
    render_instructions,
    render_vocabulary,
    render_word,
    system_prompt,
)
from havachat.settings import Provider, Settings

# What `chunk_token_budget` should default to with this estimator. A batch costs ~2,600 estimated tokens
# before any word (system prompt ~1,470, tool ~850, instructions ~250, mostly cache-read after the first
# call) and ~28 input + ~17 expected output tokens per word with a definition, so the 151-word HSK 1 list
# needs ~9,400 in one call; 12,000 leaves room for longer definitions while keeping an answer (at most
# ~4,300 tokens for the 5,000-word list's ~250-word chunks) near half of the default 8,192 max_tokens.
RECOMMENDED_CHUNK_TOKEN_BUDGET = 12_000

# Tokens Anthropic adds as a hidden system prompt when tools are present (346 with tool_choice auto,
# 313 when a tool is forced, as instructor does, for Claude 4 models): counted at the higher figure.
TOOL_USE_SYSTEM_TOKENS = 346

_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _char_weight(char: str) -> float:
    if char.isascii():
        # Latin prose tokenizes at ~4 characters per token; JSON punctuation (`{"`, `": "`, `",`)
        # at about two characters per token.
        return 0.5 if char in _ASCII_PUNCTUATION else 0.25
    if unicodedata.east_asian_width(char) in ("W", "F"):
        # Han, kana, hangul, full-width punctuation: about one token each (rare ones cost more).
        return 1.0
    code = ord(char)
    if code < 0x0530:
        # Accented Latin, Greek, Cyrillic: accents break Latin words into more tokens.
        return 0.5
    # Other scripts (Arabic, Devanagari, Thai, ...) and symbols: one token each, to stay conservative.
    return 1.0


def estimate_tokens(text: str) -> int:
    """A deterministic, conservative estimate of Claude tokens in `text` (no tokenizer, no network).

    About one token per CJK / kana / hangul character, one per four characters of ASCII text, one per
    two characters of JSON punctuation and of accented Latin, Greek or Cyrillic. The sum of the
    estimates of two strings is never below the estimate of their concatenation.
    """
    if not text:
        return 0
    if text.isascii():
        punctuation = sum(1 for c in text if c in _ASCII_PUNCTUATION)
        return math.ceil(0.25 * (len(text) - punctuation) + 0.5 * punctuation)
    return math.ceil(sum(_char_weight(c) for c in text))


@cache
def tool_overhead_tokens() -> int:
    """Estimated input tokens of the `LearningItemBatch` tool definition plus the tool-use system prompt."""
    schema = json.dumps(LearningItemBatch.model_json_schema(), ensure_ascii=False)
    return estimate_tokens(schema) + TOOL_USE_SYSTEM_TOKENS


def system_prompt_tokens() -> int:
    return estimate_tokens(system_prompt())


def word_tokens(item: VocabItem) -> int:
    """Estimated tokens of one vocabulary line in the user message (including its newline)."""
    return estimate_tokens(render_word(item) + "\n")


def message_overhead_tokens(category: Category, language: str, level: Level) -> int:
    """Estimated input tokens of a batch call apart from its words: system prompt, tool, instructions."""
    # 9999 stands in for the item range so the estimate holds for any range the batch ends up with.
    user = build_user_message(category, language, level, [], 9999, 9999)
    return system_prompt_tokens() + tool_overhead_tokens() + estimate_tokens(user)


def expected_output_tokens(category: Category, word_count: int, *, max_tokens: int | None = None) -> int:
    return quantity_guidance(category, word_count, max_tokens=max_tokens)[1] * EXPECTED_OUTPUT_TOKENS_PER_ITEM


def plan_run(
    vocab: VocabList,
    *,
    run_id: str,
    language: str,
    level: Level,
    model: str,
    chunk_token_budget: int,
    max_tokens: int,
    context_window_tokens: int = 200_000,
    categories: Sequence[Category] = tuple(Category),
) -> RunPlan:
    """Decide the batches of a run: the vocabulary is chunked once, then every category gets every chunk.

    A chunk grows word by word while, for the most demanding requested category, the estimated input
    (system prompt + tool + instructions + words) plus expected output stays within
    `chunk_token_budget`, the expected output stays within `OUTPUT_TOKEN_HEADROOM` of `max_tokens`,
    and input plus `max_tokens` fits the context window. Using the same chunk boundaries for all
    categories keeps the plan simple (a chunk is one index range, shared by nine batches) at the cost
    of slightly smaller chunks for the categories that write fewer items.
    """
    if not vocab.items:
        raise ValueError(f"{vocab.source}: the vocabulary is empty, there is nothing to plan")
    chosen = list(dict.fromkeys(categories))
    if not chosen:
        raise ValueError("no categories to plan")

    overhead = {c: message_overhead_tokens(c, language, level) for c in chosen}
    item_cap = max_items_for_tokens(max_tokens)

    @cache
    def need(count: int) -> int:
        return max(overhead[c] + expected_output_tokens(c, count) for c in chosen)

    @cache
    def output_ok(count: int) -> bool:
        return all(quantity_guidance(c, count)[1] <= item_cap for c in chosen)

    costs = [word_tokens(item) for item in vocab.items]
    grammar = [item.kind is VocabKind.GRAMMAR for item in vocab.items]
    chunks = chunk_words(
        costs,
        need=need,
        output_ok=output_ok,
        context_need=max(overhead.values()) + max_tokens,
        chunk_token_budget=chunk_token_budget,
        context_window_tokens=context_window_tokens,
    )

    batches: list[BatchSpec] = []
    for chunk_index, (start, end) in enumerate(chunks):
        for category in chosen:
            # Grammar points count only for the categories that see them; a chunk with nothing a category
            # sees (e.g. only grammar points, for pronunciation) gets no batch of that category.
            visible = [i for i in range(start, end) if not grammar[i] or category in GRAMMAR_CATEGORIES]
            if not visible:
                continue
            vocab_tokens = sum(costs[i] for i in visible)
            low, high = quantity_guidance(category, len(visible), max_tokens=max_tokens)
            batches.append(
                BatchSpec(
                    batch_id=f"{category.value}-{chunk_index:04d}",
                    category=category,
                    chunk_index=chunk_index,
                    chunk_count=len(chunks),
                    word_start=start,
                    word_end=end,
                    target_items_min=low,
                    target_items_max=high,
                    estimated_input_tokens=overhead[category] + vocab_tokens,
                    estimated_output_tokens=high * EXPECTED_OUTPUT_TOKENS_PER_ITEM,
                )
            )

    return RunPlan(
        run_id=run_id,
        language=language,
        level=level,
        source=vocab.source,
        word_count=len(vocab.items),
        model=model,
        prompt_version=PROMPT_VERSION,
        max_tokens=max_tokens,
        chunk_token_budget=chunk_token_budget,
        batches=batches,
    )


def plan_with_settings(vocab: VocabList, settings: Settings, *, run_id: str, language: str, level: Level) -> RunPlan:
    """`plan_run` with the model, budgets and limits of `settings` (what Plan, the CLI and the bench use).

    With the offline provider the plan holds only the categories the offline generator writes, and
    its model is "offline".
    """
    offline = settings.provider is Provider.OFFLINE
    return plan_run(
        vocab,
        run_id=run_id,
        language=language,
        level=level,
        model=OFFLINE_MODEL if offline else settings.model,
        chunk_token_budget=settings.chunk_token_budget,
        max_tokens=planned_max_tokens(settings),
        context_window_tokens=settings.context_window_tokens,
        categories=OFFLINE_CATEGORIES if offline else tuple(Category),
    )


# --------------------------------------------------------------------------------------------------
# Summaries for the CLI and the bench
# --------------------------------------------------------------------------------------------------
class PlanSummary(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    words: int
    chunks: int
    categories: int
    batches: int
    words_per_chunk_min: int
    words_per_chunk_max: int
    target_items_min: int
    target_items_max: int
    estimated_input_tokens: int
    estimated_output_tokens: int
    max_batch_input_tokens: int
    max_batch_output_tokens: int


def summarise_plan(plan: RunPlan) -> PlanSummary:
    batches = plan.batches
    sizes = [b.word_count for b in batches] or [0]
    return PlanSummary(
        words=plan.word_count,
        chunks=len({b.chunk_index for b in batches}),
        categories=len({b.category for b in batches}),
        batches=len(batches),
        words_per_chunk_min=min(sizes),
        words_per_chunk_max=max(sizes),
        target_items_min=sum(b.target_items_min for b in batches),
        target_items_max=sum(b.target_items_max for b in batches),
        estimated_input_tokens=sum(b.estimated_input_tokens for b in batches),
        estimated_output_tokens=sum(b.estimated_output_tokens for b in batches),
        max_batch_input_tokens=max((b.estimated_input_tokens for b in batches), default=0),
        max_batch_output_tokens=max((b.estimated_output_tokens for b in batches), default=0),
    )


class DesignCost(BaseModel):
    """Estimated cost of one way of generating the items. The cached figure assumes the system prompt
    and tool prefix is written to the prompt cache once and read by every later call."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    calls: int
    system_prompt_tokens: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_usd_cached: float


class DesignComparison(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    model: str
    words: int
    per_word: DesignCost
    batched: DesignCost

    @property
    def call_reduction(self) -> float:
        """How many times fewer calls the batched design makes."""
        return self.per_word.calls / self.batched.calls if self.batched.calls else 0.0

    @property
    def input_token_reduction(self) -> float:
        return self.per_word.input_tokens / self.batched.input_tokens if self.batched.input_tokens else 0.0


# The prompt the one-call-per-word design sends besides the shared system prompt (representative).
_PER_WORD_PROMPT = (
    "Target language: {language}. Learner level: {level}.\n"
    "Write learning items for the word below, covering the categories: {categories}.\n"
    "Write between 1 and {items} items.\n{vocabulary}"
)


def per_word_message(item: VocabItem, language: str, level: Level, categories: Sequence[Category]) -> str:
    """The user message of the old design, one call per word (for comparisons and the bench)."""
    return _PER_WORD_PROMPT.format(
        language=language,
        level=level,
        categories=", ".join(c.value for c in categories),
        items=len(categories),
        vocabulary=render_vocabulary([item]),
    )


def _design_cost(model: str, calls: int, prefix_tokens: int, input_tokens: int, output_tokens: int) -> DesignCost:
    price = price_for(model)
    uncached = (input_tokens * price.input + output_tokens * price.output) / 1_000_000
    prefix_total = prefix_tokens * calls
    cached_prefix = (prefix_tokens * price.cache_write + (prefix_total - prefix_tokens) * price.cache_read) / 1e6
    cached = cached_prefix + ((input_tokens - prefix_total) * price.input + output_tokens * price.output) / 1e6
    return DesignCost(
        calls=calls,
        system_prompt_tokens=system_prompt_tokens() * calls,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=round(uncached, 6),
        cost_usd_cached=round(cached if calls else 0.0, 6),
    )


def batched_cost(plan: RunPlan) -> DesignCost:
    """This plan's estimated calls, tokens and list-price cost (what `havachat plan` shows, and the cost cap checks).

    The cached figure follows the prompt layout (`havachat.prompts`): a chunk with two or more batches
    whose shared prefix (tool, system prompt, its vocabulary) reaches the model's minimum cacheable
    length has it written once by the warm-up (one output token) and read by every category call;
    any other chunk is paid in full.
    """
    price = price_for(plan.model)
    input_tokens = sum(b.estimated_input_tokens for b in plan.batches)
    output_tokens = sum(b.estimated_output_tokens for b in plan.batches)
    instruction = max(estimate_tokens(render_instructions(c, plan.language, plan.level, 9999, 9999)) for c in Category)
    by_chunk: dict[int, list[int]] = {}
    for batch in plan.batches:
        by_chunk.setdefault(batch.chunk_index, []).append(batch.estimated_input_tokens)
    cached = output_tokens * price.output
    for inputs in by_chunk.values():
        shared = min(inputs) - instruction
        if len(inputs) >= 2 and shared >= min_cacheable_tokens(plan.model):
            cached += shared * price.cache_write + price.output  # the warm-up
            cached += len(inputs) * shared * price.cache_read + (sum(inputs) - len(inputs) * shared) * price.input
        else:
            cached += sum(inputs) * price.input
    return DesignCost(
        calls=len(plan.batches),
        system_prompt_tokens=system_prompt_tokens() * len(plan.batches),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=round((input_tokens * price.input + output_tokens * price.output) / 1e6, 6),
        cost_usd_cached=round(cached / 1e6 if plan.batches else 0.0, 6),
    )


def compare_designs(plan: RunPlan, vocab: VocabList) -> DesignComparison:
    """One call per word versus this plan, in estimated calls, tokens and list-price cost.

    The per-word design sends the same system prompt and tool with a short per-word prompt. Both
    designs are assumed to write the same items in total (the plan's upper targets), except that
    every per-word call returns at least one item.
    """
    prefix = system_prompt_tokens() + tool_overhead_tokens()
    batched = batched_cost(plan)
    batched_output = batched.output_tokens

    categories = sorted({b.category for b in plan.batches}) or list(Category)
    per_word_input = sum(
        prefix + estimate_tokens(per_word_message(item, plan.language, plan.level, categories)) for item in vocab.items
    )
    calls = len(vocab.items)
    per_word_output = max(batched_output, calls * EXPECTED_OUTPUT_TOKENS_PER_ITEM)
    per_word = _design_cost(plan.model, calls, prefix, per_word_input, per_word_output)
    return DesignComparison(model=plan.model, words=calls, per_word=per_word, batched=batched)


class LatencyModel(BaseModel):
    """Time of one call: time to first token plus output tokens at the model's throughput."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    first_token_seconds: float = 1.0
    output_tokens_per_second: float = 60.0

    def call_seconds(self, output_tokens: int) -> float:
        return self.first_token_seconds + output_tokens / self.output_tokens_per_second


def planned_max_tokens(settings: Settings, latency: LatencyModel | None = None) -> int:
    """The answer limit chunks are sized for: `settings.max_tokens`, at most one minute of output when an
    output-token rate limit is known.

    The API reserves a call's `max_tokens` of the per-minute output budget while the call runs, and a
    call streams at most `output_tokens_per_second`: using the budget takes OTPM / (60 x that) calls in
    flight, which fit their reservations only if each asks for at most a minute of output
    (`havachat.rate_limits`).
    """
    if not settings.rate_limit_output_tokens_per_minute:
        return settings.max_tokens
    minute = round(60 * (latency or LatencyModel()).output_tokens_per_second)
    return min(settings.max_tokens, minute)


def estimate_wall_seconds(output_tokens_per_call: Sequence[int], *, concurrency: int, latency: LatencyModel) -> float:
    """Wall time of calls run `concurrency` at a time, longest first (1 = strictly sequential)."""
    lanes = [0.0] * max(1, concurrency)
    for tokens in sorted(output_tokens_per_call, reverse=True):
        lanes[lanes.index(min(lanes))] += latency.call_seconds(tokens)
    return max(lanes)
