"""Definitions filled from CC-CEDICT and JMdict (`havachat.languages.dictionary`) and the files' build step."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from havachat.languages import dictionary
from havachat.languages.dictionary import DEFINITION_MARK, dictionary_for, fill_definitions
from havachat.models import Category, VocabItem, VocabKind, VocabList
from havachat.offline import derive_items
from havachat.pipeline.keys import RunKeys
from havachat.readings import fill_romanization
from havachat.vocab import read_vocab_file
from scripts.build_dictionaries import cedict_rows, jmdict_rows
from tests.unit.pipeline_world import World

SHARED_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "vocab"


def _gloss(language: str, word: str, reading: str | None = None) -> str | None:
    dictionary = dictionary_for(language)
    assert dictionary is not None
    entry = dictionary.lookup(word, reading)
    return entry.gloss if entry else None


@pytest.mark.parametrize(
    ("word", "reading", "gloss"),
    [
        ("一", "yī", "one; single; a (article)"),  # the first senses, as a dictionary writes them
        ("了", "le", "(completed action marker)"),  # one long sense: no second one past 60 characters
        ("了", "liǎo", "to finish; to achieve; to understand clearly"),  # the heteronym the reading names
        ("这", "zhè", "(pronoun) this; these"),
        ("這", "zhè", "(pronoun) this; these"),  # traditional finds the same entry
        ("台", "tái", "platform; stage; terrace"),  # not the dated "(classical) you", nor Taiwan (a proper noun)
        ("和", None, "(joining two nouns) and; together with; with; (math.) sum"),  # no reading: the main entry
        ("为", "wei", "as (in the capacity of); to take sth as; to act as"),  # toneless reading still picks
        ("菜", "cài", "vegetable; greens; dish (of food)"),  # classifier notes "(CL:棵)" left out
    ],
)
def test_chinese_lookup(word: str, reading: str | None, gloss: str) -> None:
    assert _gloss("zh", word, reading) == gloss


@pytest.mark.parametrize(
    ("word", "reading", "gloss"),
    [
        ("会う", "あう", "to meet; to encounter; to see"),
        ("これ", None, "this; this one; this person"),  # kana-only: the entry usually written in kana
        ("これ", "これ", "this; this one; this person"),
        ("朝", "あさ", "morning; breakfast; next morning"),
        ("朝", "ちょう", "dynasty; reign; period"),  # the kanji's other reading
        ("コーヒー", "コーヒー", "coffee"),
        ("明日", "アシタ", "tomorrow; near future"),  # a katakana reading matches hiragana
    ],
)
def test_japanese_lookup(word: str, reading: str | None, gloss: str) -> None:
    assert _gloss("ja", word, reading) == gloss


def test_unknown_words_and_languages_have_no_entry() -> None:
    assert _gloss("zh", "最大") is None  # a compositional phrase CC-CEDICT does not list
    assert _gloss("ja", "ほげほげ") is None
    assert dictionary_for("es") is None and dictionary_for("zh-TW") is dictionary_for("zh")


def test_fill_keeps_given_definitions_and_marks_the_filled() -> None:
    vocab = VocabList(
        source="list.csv",
        items=[
            VocabItem(word="这", romanization="zhè", definition="this (my own words)"),
            VocabItem(word="了", romanization="le"),
            VocabItem(word="最大", romanization="zuìdà"),
            VocabItem(word="是…的", kind=VocabKind.GRAMMAR),
        ],
    )
    filled = fill_definitions(vocab, "zh")
    given, found, unknown, grammar = filled.items
    assert given == vocab.items[0]  # a definition the list gives is kept, unmarked
    assert found.definition and found.definition.startswith("(completed action marker)")
    assert found.extra[DEFINITION_MARK] == "CC-CEDICT"
    assert unknown.definition is None and DEFINITION_MARK not in unknown.extra
    assert grammar == vocab.items[3]  # grammar points are not words to look up
    assert [str(w) for w in filled.warnings] == [
        "1 of 2 words without a definition were given one from CC-CEDICT; 1 not in it have none"
    ]


def test_fill_reads_no_dictionary_when_nothing_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dictionary(language: str) -> None:
        raise AssertionError(f"the {language} dictionary was read")

    monkeypatch.setattr(dictionary, "dictionary_for", no_dictionary)
    complete = VocabList(source="list.csv", items=[VocabItem(word="好", definition="good")])
    assert fill_definitions(complete, "zh") is complete
    spanish = VocabList(source="es.csv", items=[VocabItem(word="hola")])
    assert fill_definitions(spanish, "es") is spanish  # no dictionary for the language


def test_filled_5000_word_list_gives_offline_items_real_translations() -> None:
    """zh_top5000 has no definitions: after Plan's fill no offline example shows a made-up gloss."""
    vocab = read_vocab_file(SHARED_SAMPLES / "zh_top5000.csv", language="zh")
    vocab = fill_definitions(fill_romanization(vocab, "zh"), "zh")
    assert sum(1 for item in vocab.items if item.definition) / len(vocab.items) > 0.95
    definitions = {item.word: item.definition for item in vocab.items}
    items = [
        item for c in (Category.PRONUNCIATION, Category.WRITING_SYSTEM) for item in derive_items(c, "zh", vocab.items)
    ]
    assert items
    for item in items:
        for example in item.examples:
            assert not re.search(r"\(the word ", example.translation), (item.title, example)
            if example.text in definitions:  # a list word shown alone carries its dictionary meaning
                assert definitions[example.text], (item.title, example)


CEDICT_SAMPLE = """\
# CC-CEDICT
台 台 [Tai2] /Taiwan (abbr.)/surname Tai/
台 台 [tai2] /(classical) you (in letters)/variant of 臺|台[tai2]/
和 和 [he2] /(joining two nouns) and; together with; with (Taiwan pr. [han4])/(math.) sum/to make peace/
昰 是 [shi4] /variant of 是[shi4]/
菜 菜 [cai4] /vegetable/greens (CL:棵[ke1])/dish (of food)/CL:道[dao4],盤|盘[pan2]/
女兒 女儿 [nu:3 er2] /daughter/
"""


def test_cedict_rows_keep_the_first_meanings() -> None:
    assert list(cedict_rows(CEDICT_SAMPLE.splitlines())) == [
        ("台", "Tái", "p", "1", "Taiwan (abbr.)"),
        ("台", "tái", "d", "1", "(classical) you (in letters)"),
        ("和", "hé", "", "3", "(joining two nouns) and; together with; with; (math.) sum"),
        # 昰: a variant only, no meaning of its own: left out
        ("菜", "cài", "", "3", "vegetable; greens; dish (of food)"),
        ("女儿;女兒", "nǚér", "", "1", "daughter"),
    ]


JMDICT_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE JMdict [
<!ENTITY uk "word usually written using kana alone">
<!ENTITY v5u "Godan verb with 'u' ending">
]>
<JMdict>
<entry><ent_seq>1</ent_seq>
<k_ele><keb>\xe6\xad\xa4\xe3\x82\x8c</keb><ke_pri>ichi1</ke_pri></k_ele>
<r_ele><reb>\xe3\x81\x93\xe3\x82\x8c</reb></r_ele>
<sense><misc>&uk;</misc><gloss>this</gloss><gloss>this one</gloss><gloss xml:lang="ger">dies</gloss></sense>
<sense><gloss>this person</gloss><gloss>now</gloss></sense>
</entry>
<entry><ent_seq>2</ent_seq>
<r_ele><reb>\xe3\x83\x8f\xe3\x82\xa4</reb></r_ele>
<sense><gloss xml:lang="dut">ja</gloss></sense>
</entry>
</JMdict>
"""


def test_jmdict_rows_keep_english_glosses_and_flags() -> None:
    assert list(jmdict_rows(io.BytesIO(JMDICT_SAMPLE))) == [
        ("此れ", "これ", "k", "1", "this; this one; this person"),  # the Dutch-only entry has no English gloss
    ]


def test_plan_fills_definitions_that_reach_the_chunks() -> None:
    """Plan fills the list's missing glosses before it plans: the vocab, each chunk slice GenerateBatch
    reads and the warnings Finalize reports all carry them."""
    world = World()
    listed = "word,romanization\n这,zhè\n了,le\n最大,zuìdà\n好,hǎo\n"
    source = world.upload(listed.encode(), key="uploads/zh/HSK1/top.csv")
    planned = world.plan(source)
    words = {item.word: item for item in world.vocab(planned.run_id)}
    assert words["这"].definition == "(pronoun) this; these" and words["这"].extra[DEFINITION_MARK] == "CC-CEDICT"
    assert words["最大"].definition is None
    chunk = VocabList.model_validate(world.store.get_json(RunKeys(planned.run_id).chunk(0)))
    assert [item.definition for item in chunk.items] == [words[item.word].definition for item in chunk.items]
    assert chunk.items and all(item.definition for item in chunk.items if item.word != "最大")
    stored = VocabList.model_validate(world.store.get_json(RunKeys(planned.run_id).vocab))
    assert "3 of 4 words without a definition were given one from CC-CEDICT; 1 not in it have none" in [
        w.problem for w in stored.warnings
    ]
