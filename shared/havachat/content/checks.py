"""Stage 2 checks on what the model wrote, decided here once.

- every cited item id must be an item of the run and every cited word a word of the vocabulary
  (matched like source words: NFC, then case-insensitively); unknown citations are removed from
  the piece and counted, and a piece left with no known item id or no known word is dropped and
  counted;
- vocabulary outside the level is reported, not dropped: `out_of_level_words` per piece and in the
  summary (see `LevelVocabulary` for the heuristic).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from havachat.content.models import (
    ContentKind,
    ContentProvenance,
    Conversation,
    GeneratedConversation,
    GeneratedStory,
    Story,
)
from havachat.languages import language_for
from havachat.models import Level, normalise_text
from havachat.postprocess import WordIndex

Piece: TypeAlias = Conversation | Story
GeneratedPiece: TypeAlias = GeneratedConversation | GeneratedStory

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN = re.compile(f"[{_HAN}]+")
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SEPARATORS = re.compile(r"[\s…~～/,，、()（）\[\]]+|\.{2,}")


def _key(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold()


class LevelVocabulary:
    """Which words of a text are outside a vocabulary list: a heuristic, not a tokenizer.

    Chinese and Japanese: the Han characters of the text are segmented by longest match against the
    list's words (and, for words that mix kanji and kana such as 会う, their kanji stems); each run of
    characters no word covers is reported. Kana, Latin letters, digits and punctuation are not judged.
    Other languages: each letter word of the text that is not a word of the list (case-insensitive).
    Grammar points with gaps (是…的, ~てください) count as their parts. Inflected forms are reported as
    unknown in space-separated languages (the list has `ser`, the text `soy`).
    """

    def __init__(self, words: Iterable[str], language: str) -> None:
        described = language_for(language)
        self.character_script = described is not None and described.character_script
        known: set[str] = set()
        for word in words:
            for part in _SEPARATORS.split(_key(word)):
                if not part:
                    continue
                if self.character_script:
                    known.add(part)
                    known.update(_HAN_RUN.findall(part))
                else:
                    known.update(_LETTER_WORD.findall(part))
        self.known = frozenset(known)
        self._longest = max((len(w) for w in known), default=1)

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` not in the list, in order of appearance, each once."""
        found = self._unknown_han(text) if self.character_script else self._unknown_letters(text)
        return list(dict.fromkeys(found))

    def _unknown_letters(self, text: str) -> list[str]:
        return [w for w in _LETTER_WORD.findall(_key(text)) if w not in self.known]

    def _unknown_han(self, text: str) -> list[str]:
        text = _key(text)
        unknown: list[str] = []
        run = ""
        index = 0
        while index < len(text):
            if not _HAN_RUN.match(text[index]):
                unknown, run = _flush(unknown, run)
                index += 1
                continue
            length = next(
                (
                    n
                    for n in range(min(self._longest, len(text) - index), 0, -1)
                    if text[index : index + n] in self.known
                ),
                0,
            )
            if length:
                unknown, run = _flush(unknown, run)
                index += length
            else:
                run += text[index]
                index += 1
        unknown, _ = _flush(unknown, run)
        return unknown


def _flush(unknown: list[str], run: str) -> tuple[list[str], str]:
    return ([*unknown, run] if run else unknown), ""


def content_id(language: str, kind: ContentKind, title: str, item_ids: Sequence[str]) -> str:
    """Deterministic: the same language, kind, normalised title and cited items give the same id."""
    key = "\x1e".join((language.lower(), kind.value, normalise_text(title), "\x1f".join(sorted(set(item_ids)))))
    return f"{language.lower()}-{kind.value}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


@dataclass
class FinishedContent:
    pieces: list[Piece]
    dropped_pieces: int = 0
    removed_item_ids: int = 0
    removed_vocab_words: int = 0


def finish_content(
    generated: Sequence[GeneratedPiece],
    *,
    kind: ContentKind,
    item_ids: set[str],
    words: WordIndex,
    level_vocabulary: LevelVocabulary,
    language: str,
    level: Level,
    provenance: ContentProvenance,
) -> FinishedContent:
    """Check the citations of what the model wrote, report out-of-level words, add ids and metadata."""
    result = FinishedContent(pieces=[])
    seen: set[str] = set()
    for piece in generated:
        known_ids = list(dict.fromkeys(i.strip() for i in piece.item_ids if i.strip() in item_ids))
        resolved = [words.canonical(w) for w in piece.vocab_words]
        known_words = list(dict.fromkeys(w for w in resolved if w is not None))
        result.removed_item_ids += sum(1 for i in piece.item_ids if i.strip() not in item_ids)
        result.removed_vocab_words += sum(1 for w in resolved if w is None)
        if not known_ids or not known_words:
            result.dropped_pieces += 1
            continue
        piece_id = content_id(language, kind, piece.title, known_ids)
        if piece_id in seen:
            result.dropped_pieces += 1
            continue
        seen.add(piece_id)
        out_of_level = list(
            dict.fromkeys(w for text in piece.target_texts() for w in level_vocabulary.unknown_words(text))
        )
        stored = {
            **piece.model_dump(),
            "item_ids": known_ids,
            "vocab_words": known_words,
            "id": piece_id,
            "kind": kind,
            "language": language,
            "level_system": level.system,
            "level": str(level),
            "out_of_level_words": out_of_level,
            "provenance": provenance,
        }
        model: type[Conversation] | type[Story] = Conversation if kind is ContentKind.CONVERSATION else Story
        result.pieces.append(model.model_validate(stored))
    return result
