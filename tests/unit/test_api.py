"""The Python API (`havachat.api.LearningItemGenerator`) over the real SDK + instructor, faked only at HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from havachat.api import GenerationFailed, LearningItemGenerator, NeedsLlm
from havachat.errors import InvalidVocabFile, LlmInvalidOutput, LlmRequestRejected, MissingCredentials
from havachat.llm import InstructorClaude
from havachat.models import Category, LearningItem, ReadingStatus, VocabItem, VocabKind
from havachat.settings import Settings
from tests.fakes.fake_claude import FakeClaude
from tests.helpers import ROOT

MODEL = "claude-sonnet-4-6"
WORDS: list[str | VocabItem] = [
    VocabItem(word="你好", romanization="nǐ hǎo", definition="hello"),
    "谢谢",
    "再见",
    VocabItem(word="朋友", romanization="péngyou"),
]
METHODS = {
    Category.PRONUNCIATION: "generate_pronunciation_items",
    Category.IDIOM: "generate_idiom_items",
    Category.FUNCTIONAL: "generate_functional_items",
    Category.CULTURAL: "generate_cultural_items",
    Category.WRITING_SYSTEM: "generate_writing_system_items",
    Category.SOCIOLINGUISTIC: "generate_sociolinguistic_items",
    Category.PRAGMATIC: "generate_pragmatic_items",
    Category.LITERACY: "generate_literacy_items",
    Category.PATTERN: "generate_pattern_items",
}


def _generator(fake: FakeClaude, settings: Settings | None = None) -> LearningItemGenerator:
    llm = InstructorClaude(fake.client(max_retries=0), model=MODEL, validation_max_retries=1)
    return LearningItemGenerator(language="zh", level="HSK1", llm=llm, settings=settings, run_id="api-test")


def _user_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


def _vocabulary_sent(body: dict[str, Any]) -> list[dict[str, str]]:
    block = _user_text(body).split("<vocabulary>\n", 1)[1].split("\n</vocabulary>", 1)[0]
    return [json.loads(line) for line in block.splitlines()]


@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.value)
def test_each_category_method_is_one_batched_call_returning_that_categorys_items(category: Category) -> None:
    fake = FakeClaude()
    generator = _generator(fake)

    items = getattr(generator, METHODS[category])(WORDS)

    assert len(fake.requests) == 1, "the whole list goes in one call"
    assert f"Category: {category.value.replace('_', ' ')}" in _user_text(fake.requests[0])
    assert [w["word"] for w in _vocabulary_sent(fake.requests[0])] == ["你好", "谢谢", "再见", "朋友"]
    assert items and all(isinstance(item, LearningItem) for item in items)
    assert {item.category for item in items} == {category}
    assert {w for item in items for w in item.source_words} <= {"你好", "谢谢", "再见", "朋友"}
    assert all(item.provenance.run_id == "api-test" and item.level_min == "1" for item in items)
    assert generator.usage.by_category[category.value].calls == 1


def test_a_large_list_is_chunked_by_the_token_budget_and_every_chunk_contributes() -> None:
    fake = FakeClaude()
    words = [f"词{i:03d}" for i in range(120)]
    generator = _generator(fake, Settings(chunk_token_budget=3_000))

    items = generator.generate_pronunciation_items(words)

    assert len(fake.requests) > 1
    sent = [w["word"] for body in fake.requests for w in _vocabulary_sent(body)]
    assert sorted(sent) == words, "each word goes to exactly one chunk"
    cited = {w for item in items for w in item.source_words}
    chunks = [{w["word"] for w in _vocabulary_sent(body)} for body in fake.requests]
    assert all(cited & chunk for chunk in chunks), "items come back from every chunk"


def test_generate_all_returns_every_category_from_one_call_each() -> None:
    fake = FakeClaude()
    generator = _generator(fake)

    results = generator.generate_all(WORDS)

    assert list(results) == list(Category)
    assert all(results[c] and {i.category for i in results[c]} == {c} for c in Category)
    assert len(fake.requests) == len(Category)
    assert generator.usage.run_total.calls == len(Category)


def test_miscellaneous_items_are_the_four_remaining_categories_from_one_call_each() -> None:
    fake = FakeClaude()
    generator = _generator(fake)

    results = generator.generate_miscellaneous_items(WORDS)

    expected = [Category.SOCIOLINGUISTIC, Category.PRAGMATIC, Category.LITERACY, Category.PATTERN]
    assert list(results) == expected
    assert all(results[c] and {i.category for i in results[c]} == {c} for c in expected)
    sent = sorted(_user_text(body).split("Category: ", 1)[1].split("\n", 1)[0] for body in fake.requests)
    assert sent == sorted(c.value.replace("_", " ") for c in expected)


def test_examples_whose_romanization_is_wrong_in_context_are_flagged() -> None:
    item = {
        "title": "不 before a third tone",
        "explanation": "不 stays bù before a third tone.",
        "examples": [
            {"text": "你好", "romanization": "nǐ hǎo", "translation": "hello"},
            {"text": "不好", "romanization": "bú hǎo", "translation": "not good"},
        ],
        "source_words": ["你好"],
    }
    fake = FakeClaude().script(answer=[item])

    [flagged] = _generator(fake).generate_pronunciation_items(WORDS)

    assert [(f.example, f.given, f.expected, f.status) for f in flagged.reading_flags] == [
        (1, "bú hǎo", "bù hǎo", ReadingStatus.MISMATCH)
    ]


def test_a_failed_category_raises_a_typed_error_with_the_other_categories_items() -> None:
    fake = FakeClaude().script(status=400, match="Category: cultural")
    generator = _generator(fake)

    with pytest.raises(GenerationFailed) as raised:
        generator.generate_all(WORDS)

    failed = raised.value
    assert list(failed.errors) == ["cultural-0000"]
    assert isinstance(failed.errors["cultural-0000"], LlmRequestRejected)
    assert isinstance(failed.__cause__, LlmRequestRejected)
    assert failed.partial[Category.CULTURAL] == []
    assert all(failed.partial[c] for c in Category if c is not Category.CULTURAL)


def test_a_single_category_method_raises_rather_than_returning_an_empty_list() -> None:
    fake = FakeClaude().script(status=401)

    with pytest.raises(GenerationFailed) as raised:
        _generator(fake).generate_cultural_items(WORDS)

    assert isinstance(raised.value.errors["cultural-0000"], LlmRequestRejected)


def test_answers_whose_items_all_cite_unknown_words_are_an_error_not_an_empty_list() -> None:
    invented = {
        "title": "Invented",
        "explanation": "Not from the list.",
        "examples": [{"text": "龙", "translation": "dragon"}, {"text": "龙年", "translation": "year of the dragon"}],
        "source_words": ["龙"],
    }
    fake = FakeClaude().script(answer=[invented])

    with pytest.raises(GenerationFailed) as raised:
        _generator(fake).generate_functional_items(WORDS)

    error = raised.value.errors["functional"]
    assert isinstance(error, LlmInvalidOutput) and "not in the list" in str(error)


def test_words_are_validated_like_a_vocab_file() -> None:
    fake = FakeClaude()

    with pytest.raises(InvalidVocabFile) as raised:
        _generator(fake).generate_pronunciation_items(["你好", "  ", "再见"])

    assert "item 2" in str(raised.value) and "empty" in str(raised.value)
    assert fake.requests == [], "a rejected list makes no call"


def test_duplicate_words_are_merged_and_text_is_normalised() -> None:
    fake = FakeClaude()

    _generator(fake).generate_pronunciation_items([" 你好 ", "你好", VocabItem(word="谢谢")])

    assert [w["word"] for w in _vocabulary_sent(fake.requests[0])] == ["你好", "谢谢"]


def test_grammar_items_are_validated_like_words() -> None:
    fake = FakeClaude()

    with pytest.raises(InvalidVocabFile) as raised:
        _generator(fake).generate_pattern_items(WORDS, grammar_items=["是…的", ""])

    assert "grammar item 2" in str(raised.value)


def test_grammar_items_are_shown_to_every_call_and_cited_by_idiom_and_pattern_only() -> None:
    # Every category of a chunk gets the same (cached) vocabulary block; only idiom and pattern may cite grammar.
    fake = FakeClaude()
    grammar = ["是…的", VocabItem(word="太…了", definition="too ...")]

    results = _generator(fake).generate_all(WORDS, grammar_items=grammar)

    for body in fake.requests:
        kinds = {w["word"]: w.get("kind", "word") for w in _vocabulary_sent(body)}
        assert kinds["是…的"] == kinds["太…了"] == VocabKind.GRAMMAR.value
    cited = {c: {w for item in items for w in item.source_words} for c, items in results.items()}
    assert cited[Category.PATTERN] & {"是…的", "太…了"}
    assert all(
        not words & {"是…的", "太…了"} for c, words in cited.items() if c not in (Category.IDIOM, Category.PATTERN)
    )
    assert results[Category.PATTERN] and results[Category.PRONUNCIATION]


def test_without_an_llm_or_credentials_it_raises_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(MissingCredentials, match="ANTHROPIC_API_KEY"):
        LearningItemGenerator(language="zh", level="HSK1", settings=Settings())


def test_with_a_key_it_builds_the_configured_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

    generator = LearningItemGenerator(language="ja", level="N5", settings=Settings(model="claude-haiku-4-5"))

    assert isinstance(generator.llm, InstructorClaude) and generator.llm.model == "claude-haiku-4-5"
    assert str(generator.level) == "JLPT N5"


def test_importing_the_api_does_not_import_the_llm_stack() -> None:
    probe = (
        "import sys, havachat; havachat.LearningItemGenerator; import havachat.api; "
        "print(sorted(m for m in ('anthropic', 'instructor', 'boto3') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)

    assert done.stdout.strip() == "[]"


def test_the_offline_provider_writes_pronunciation_and_writing_items_without_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAVACHAT_PROVIDER", "offline")
    words = [
        VocabItem(word="不", romanization="bù", definition="not"),
        VocabItem(word="是", romanization="shì", definition="to be", pos="v"),
        VocabItem(word="好", romanization="hǎo", definition="good", pos="adj"),
        VocabItem(word="电脑", romanization="diànnǎo", definition="computer"),
        VocabItem(word="电视", romanization="diànshì", definition="television"),
    ]

    generator = LearningItemGenerator(language="zh", level="HSK1", settings=Settings(), run_id="offline-test")
    everything = generator.generate_all(words)

    assert generator.llm is None and set(everything) == {Category.PRONUNCIATION, Category.WRITING_SYSTEM}
    titles = [i.title for i in everything[Category.PRONUNCIATION]]
    assert "Tone change of 不: bú before a fourth tone" in titles
    assert [i.title for i in everything[Category.WRITING_SYSTEM]] == ["The character 电 (diàn)"]
    assert {i.provenance.generator for items in everything.values() for i in items} == {"offline"}
    assert generator.usage.run_total.calls == 0


def test_offline_categories_and_content_that_need_an_llm_say_so() -> None:
    generator = LearningItemGenerator(language="es", level="A1", provider="offline")

    with pytest.raises(NeedsLlm, match="idiom need an LLM"):
        generator.generate_idiom_items(["hola"])
    with pytest.raises(NeedsLlm, match="conversations and stories need an LLM"):
        generator.generate_content([], ["hola"])
    with pytest.raises(NeedsLlm, match="no items for fr"):
        LearningItemGenerator(language="fr", level="A1", provider="offline").generate_pronunciation_items(["bonjour"])
    words = [VocabItem(word=w, definition=d) for w, d in (("café", "coffee"), ("también", "also"), ("hola", "hi"))]
    assert [i.source_words for i in generator.generate_writing_system_items(words)] == [["café", "también"]]
