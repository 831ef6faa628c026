"""Stage 2 content: chunking, checks and generation over the real SDK + instructor, faked only at HTTP."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from havachat.content.checks import LevelVocabulary, finish_content
from havachat.content.generate import (
    ITEMS_PER_PIECE,
    WHOLE_VOCABULARY_MAX_TOKENS,
    ContentChunk,
    ContentGenerationFailed,
    generate_content,
    max_pieces_per_call,
    plan_content,
)
from havachat.content.models import (
    ContentDocument,
    ContentKind,
    ContentProvenance,
    Conversation,
    ConversationBatch,
    GeneratedConversation,
    StoryBatch,
)
from havachat.content.prompts import render_level_words
from havachat.errors import LlmRequestRejected
from havachat.llm import InstructorClaude
from havachat.llm_port import LlmRequest
from havachat.models import Category, Example, LearningItem, Level, Provenance, VocabItem
from havachat.planning import estimate_tokens
from havachat.postprocess import WordIndex
from havachat.vocab import read_vocab_file
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.fake_content import install
from tests.helpers import FIXTURES_DIR

MODEL = "claude-sonnet-4-6"
LEVEL = Level.parse("HSK1")
VOCAB = [
    VocabItem(word="你好", romanization="nǐ hǎo"),
    VocabItem(word="谢谢", romanization="xièxie"),
    VocabItem(word="我", romanization="wǒ"),
    VocabItem(word="是", romanization="shì"),
    VocabItem(word="老师", romanization="lǎoshī"),
]


def _item(index: int, category: Category, words: list[str]) -> LearningItem:
    return LearningItem(
        id=f"zh-{category.value}-{index:016d}",
        language="zh",
        category=category,
        level_system=LEVEL.system,
        level_min="1",
        level_max="1",
        title=f"Item {index}",
        explanation="An explanation.",
        examples=[Example(text=words[0], translation="x"), Example(text=words[-1], translation="y")],
        source_words=words,
        provenance=Provenance(run_id="run-1", batch_id="b", model=MODEL, prompt_version="v"),
    )


ITEMS = [
    _item(1, Category.PRONUNCIATION, ["你好"]),
    _item(2, Category.PATTERN, ["我", "是"]),
    _item(3, Category.FUNCTIONAL, ["谢谢"]),
    _item(4, Category.CULTURAL, ["老师"]),
]


def _llm(fake: FakeClaude) -> InstructorClaude:
    return InstructorClaude(fake.client(max_retries=0), model=MODEL, validation_max_retries=1)


def _generate(fake: FakeClaude, items: list[LearningItem] = ITEMS, **overrides: Any) -> ContentDocument:
    arguments: dict[str, Any] = {
        "run_id": "run-1",
        "language": "zh",
        "level": LEVEL,
        "llm": _llm(fake),
        "conversations": 2,
        "stories": 2,
        "max_tokens": 8192,
        **overrides,
    }
    return generate_content(items, VOCAB, **arguments)


def _tool(body: dict[str, Any]) -> str:
    return str(body["tool_choice"]["name"])


# -- out-of-level words --------------------------------------------------------------------------------


def test_chinese_text_is_segmented_by_longest_match_and_unknown_runs_are_reported() -> None:
    level = LevelVocabulary(["你好", "老师", "是", "我", "是…的"], "zh")

    assert level.unknown_words("你好，老师！我是学生。") == ["学生"]
    assert level.unknown_words("我是坐飞机来的。") == ["坐飞机来"]  # 的 known from the grammar point 是…的
    assert level.unknown_words("Hello 你好 123") == []


def test_japanese_kanji_stems_count_and_kana_is_not_judged() -> None:
    level = LevelVocabulary(["会う", "友達"], "ja")

    assert level.unknown_words("友達に会いました。") == []
    assert level.unknown_words("先生に会います") == ["先生"]


def test_space_separated_languages_compare_words_case_insensitively() -> None:
    level = LevelVocabulary(["hola", "buenos días", "amigo"], "es")

    assert level.unknown_words("¡Hola, amigo! Buenos días, señora.") == ["señora"]


# -- chunking ------------------------------------------------------------------------------------------


def _plan(
    items: list[LearningItem], vocab: list[VocabItem], max_tokens: int = 8192, **requested: int
) -> list[ContentChunk]:
    kinds = {ContentKind(kind): count for kind, count in requested.items()}
    return plan_content(kinds, items, vocab, max_tokens=max_tokens)


def _many_items(count: int) -> tuple[list[LearningItem], list[VocabItem]]:
    vocab = read_vocab_file(FIXTURES_DIR / "vocab" / "zh_hsk1.csv").items
    return [_item(i, list(Category)[i % 9], [vocab[i % len(vocab)].word]) for i in range(count)], vocab


def test_a_small_run_is_one_call_per_kind_with_the_whole_vocabulary() -> None:
    chunks = _plan(ITEMS, VOCAB, conversation=3, story=3)

    assert [(c.chunk_id, c.count, len(c.items), len(c.words)) for c in chunks] == [
        ("conversation-0000", 3, 4, 5),
        ("story-0000", 3, 4, 5),
    ]


def test_items_are_interleaved_by_category() -> None:
    items = [_item(i, Category.PRONUNCIATION, ["你好"]) for i in range(3)] + [_item(9, Category.PATTERN, ["我"])]

    (chunk,) = _plan(items, VOCAB, story=1)

    assert [i.category for i in chunk.items][:2] == [Category.PRONUNCIATION, Category.PATTERN]


def test_a_call_offers_five_items_a_piece_and_the_calls_practise_different_items() -> None:
    items, vocab = _many_items(400)

    chunks = _plan(items, vocab, conversation=3, story=3)

    assert [(c.kind, c.count, len(c.items)) for c in chunks] == [
        (ContentKind.CONVERSATION, 3, 3 * ITEMS_PER_PIECE),
        (ContentKind.STORY, 3, 3 * ITEMS_PER_PIECE),
    ]
    offered = [i.id for c in chunks for i in c.items]
    assert len(set(offered)) == len(offered), "conversations and stories practise different items"
    assert len({i.category for c in chunks for i in c.items}) == len(Category)
    assert all(c.words == vocab for c in chunks), "a level's list goes whole into every call"


def test_a_list_longer_than_a_level_gives_each_call_the_words_its_items_cite() -> None:
    items, _ = _many_items(40)
    long_list = [VocabItem(word=f"词{i:04d}") for i in range(3_000)] + [VocabItem(word=w) for w in ("你好", "我", "是")]
    assert estimate_tokens(render_level_words(long_list)) > WHOLE_VOCABULARY_MAX_TOKENS
    items[0] = _item(900, Category.PATTERN, ["我", "是"])

    (chunk,) = _plan(items, long_list, story=1)

    assert {w.word for w in chunk.words} == {w for i in chunk.items for w in i.source_words} & {"你好", "我", "是"}
    assert [w.word for w in chunk.words] == ["我", "是"]


def test_items_are_offered_again_only_once_every_item_has_been() -> None:
    items, vocab = _many_items(20)

    chunks = _plan(items, vocab, max_tokens=4096, story=12)  # 4096 * 0.8 / 1200 = 2 stories an answer: 6 calls

    assert [c.count for c in chunks] == [2] * 6
    offered = [i.id for c in chunks for i in c.items]
    assert sorted(offered[:20]) == sorted(i.id for i in items), "every item before any twice"
    assert all(len({i.id for i in c.items}) == len(c.items) == 2 * ITEMS_PER_PIECE for c in chunks)


def test_pieces_are_spread_evenly_over_the_calls_one_answer_allows() -> None:
    items, vocab = _many_items(400)

    chunks = _plan(items, vocab, story=20)

    assert len(chunks) == math.ceil(20 / max_pieces_per_call(ContentKind.STORY, 8192))
    assert sum(c.count for c in chunks) == 20
    assert max(c.count for c in chunks) - min(c.count for c in chunks) <= 1


def test_nothing_is_planned_for_zero_pieces_or_no_items() -> None:
    assert _plan(ITEMS, VOCAB, conversation=0, story=0) == []
    assert _plan([], VOCAB, conversation=3, story=3) == []


# -- checks --------------------------------------------------------------------------------------------


def _conversation(item_ids: list[str], words: list[str], text: str = "你好", title: str = "Hi") -> Any:
    turns = [{"speaker": s, "text": text, "romanization": "nǐ hǎo", "translation": "hello"} for s in "AB"]
    return GeneratedConversation.model_validate(
        {"title": title, "scenario": "Two people meet.", "turns": turns, "item_ids": item_ids, "vocab_words": words}
    )


def _finish(pieces: list[Any]):
    return finish_content(
        pieces,
        kind=ContentKind.CONVERSATION,
        item_ids={i.id for i in ITEMS},
        words=WordIndex(VOCAB),
        level_vocabulary=LevelVocabulary((v.word for v in VOCAB), "zh"),
        language="zh",
        level=LEVEL,
        provenance=ContentProvenance(run_id="run-1", chunk_id="conversation-0000", model=MODEL, prompt_version="v"),
    )


def test_unknown_citations_are_removed_and_counted_and_uncited_pieces_dropped() -> None:
    known, other = ITEMS[0].id, ITEMS[1].id
    finished = _finish(
        [
            _conversation([known, "zh-idiom-made-up", other], ["你好", " 谢谢 ", "飞机"], text="你好，我是飞行员"),
            _conversation(["zh-idiom-made-up"], ["你好"], title="No known item"),
            _conversation([known], ["飞机"], title="No known word"),
        ]
    )

    assert len(finished.pieces) == 1
    piece = finished.pieces[0]
    assert isinstance(piece, Conversation)
    assert piece.item_ids == [known, other]
    assert piece.vocab_words == ["你好", "谢谢"], "cited words are resolved to the list's spelling"
    assert piece.out_of_level_words == ["飞行员"]
    assert piece.id.startswith("zh-conversation-") and piece.level == "HSK 1"
    assert (finished.dropped_pieces, finished.removed_item_ids, finished.removed_vocab_words) == (2, 2, 2)


def test_the_same_piece_twice_is_kept_once() -> None:
    finished = _finish([_conversation([ITEMS[0].id], ["你好"]), _conversation([ITEMS[0].id], ["你好"])])

    assert len(finished.pieces) == 1 and finished.dropped_pieces == 1


# -- generation ----------------------------------------------------------------------------------------


def test_one_validated_call_per_kind_whose_citations_all_exist() -> None:
    fake = install(FakeClaude())

    document = _generate(fake)

    assert sorted(_tool(body) for body in fake.requests) == ["ConversationBatch", "StoryBatch"]
    assert len(document.conversations) == len(document.stories) == 2
    item_ids, words = {i.id for i in ITEMS}, {v.word for v in VOCAB}
    for piece in document.pieces():
        assert piece.item_ids and set(piece.item_ids) <= item_ids
        assert piece.vocab_words and set(piece.vocab_words) <= words
        assert piece.out_of_level_words == []
    summary = document.summary
    assert summary.requested == summary.produced == {"conversation": 2, "story": 2}
    assert summary.usage.calls == 2 and summary.cost_usd > 0
    assert set(summary.usage_by_kind) == {"conversation", "story"}


def test_the_prompt_carries_the_items_and_the_vocabulary_as_data() -> None:
    fake = install(FakeClaude())

    _generate(fake, stories=0)

    (body,) = fake.requests
    user = body["messages"][0]["content"]
    user = user if isinstance(user, str) else "".join(b.get("text", "") for b in user)
    items_block = user.split("<learning_items>\n", 1)[1].split("\n</learning_items>", 1)[0]
    assert [json.loads(line)["id"] for line in items_block.splitlines()] == [i.id for i in ITEMS]
    assert "Write exactly 2 conversations." in user and "Hanyu Pinyin" in user
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_words_outside_the_level_are_reported_per_piece_and_in_the_summary() -> None:
    fake = install(FakeClaude(), extra_text="，坐飞机")

    document = _generate(fake)

    assert all(piece.out_of_level_words == ["坐飞机"] for piece in document.pieces())
    assert document.summary.out_of_level_words == ["坐飞机"]


def test_an_invalid_answer_is_re_asked_through_the_generic_structured_call() -> None:
    fake = install(FakeClaude()).script(answer={"conversations": []}, match="Content: conversations")

    document = _generate(fake, stories=0)

    assert len(fake.requests) == 2 and len(document.conversations) == 2
    assert document.summary.usage.attempts == 2 and document.summary.usage.calls == 1


def test_a_truncated_answer_is_split_into_two_smaller_calls() -> None:
    fake = install(FakeClaude()).script(truncated=True, match="Content: stories")

    document = _generate(fake, conversations=0, stories=3)

    asked = [b["messages"][0]["content"] for b in fake.requests]
    counts = [next(int(w) for w in str(a).split("Write exactly ")[1].split()[:1]) for a in asked]
    assert counts == [3, 2, 1]
    assert len(document.stories) == 3


def test_a_failed_kind_raises_and_the_finished_kind_is_cached_for_the_retry() -> None:
    fake = install(FakeClaude()).script(status=403, match="Content: stories")
    cache: dict[str, dict[str, object]] = {}

    class Cache:
        def get(self, chunk_id: str) -> dict[str, object] | None:
            return cache.get(chunk_id)

        def put(self, chunk_id: str, record: dict[str, object]) -> None:
            cache[chunk_id] = record

    with pytest.raises(ContentGenerationFailed) as raised:
        _generate(fake, chunk_cache=Cache())

    assert list(raised.value.errors) == ["story-0000"]
    assert isinstance(raised.value.errors["story-0000"], LlmRequestRejected)
    assert list(cache) == ["conversation-0000"]

    calls = len(fake.requests)
    document = _generate(fake, chunk_cache=Cache())
    assert [_tool(b) for b in fake.requests[calls:]] == ["StoryBatch"], "only the failed call is made again"
    assert len(document.conversations) == len(document.stories) == 2


def test_generate_structured_validates_any_response_model() -> None:
    fake = install(FakeClaude())
    llm = _llm(fake)
    user = "<learning_items>\n" + json.dumps({"id": "a", "source_words": ["你好"]}) + "\n</learning_items>\n"
    user += '<vocabulary>\n"你好"\n</vocabulary>\nWrite exactly 1 stories.'

    answer = llm.generate_structured(LlmRequest(system="s", user=user, max_tokens=1000), StoryBatch)

    assert isinstance(answer.value, StoryBatch) and answer.value.stories[0].item_ids == ["a"]
    assert len(answer.attempts) == 1 and answer.attempts[0].output_tokens > 0
    assert not isinstance(answer.value, ConversationBatch)


def test_no_items_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no learning items"):
        _generate(install(FakeClaude()), items=[])
