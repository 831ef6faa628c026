"""Default answers of the fake Claude for Stage 2's tools (`ConversationBatch`, `StoryBatch`).

They read the prompt the way `havachat.content.prompts` writes it (a `<learning_items>` block, one JSON
object per line, a `<vocabulary>` block, one JSON string per line, and a `Write exactly N conversations.`
line) and write valid
pieces that cite real item ids and words and whose text is made only of listed words, plus
`extra_text` (to plant words outside the level).

    fake = FakeClaude()
    install(fake)                       # default content answers
    install(fake, extra_text="龙")      # every turn and paragraph also says 龙
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.fake_claude import FakeClaude

_ITEMS = re.compile(r"^<learning_items>[ \t]*\n(.*?)^</learning_items>[ \t]*$", re.S | re.M)
_VOCAB = re.compile(r"^<vocabulary>[ \t]*\n(.*?)^</vocabulary>[ \t]*$", re.S | re.M)
_COUNT = re.compile(r"Write exactly (\d+) (conversations|stories)\.")


def _block(pattern: re.Pattern[str], user: str) -> list[Any]:
    match = pattern.search(user)
    return [json.loads(line) for line in match.group(1).splitlines() if line.strip()] if match else []


def _parts(user: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    count = _COUNT.search(user)
    words = [w if isinstance(w, dict) else {"word": w} for w in _block(_VOCAB, user)]  # objects: an older prompt
    return _block(_ITEMS, user), words, int(count.group(1)) if count else 1


def _cited(items: list[dict[str, Any]], words: list[dict[str, Any]], n: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Piece n cites items n, n+1 and the first two words of item n that are in the vocabulary."""
    chosen = [items[(n + k) % len(items)] for k in range(min(2, len(items)))]
    listed = {w["word"]: w for w in words}
    used = [listed[w] for item in chosen for w in item["source_words"] if w in listed][:2] or words[:1]
    return list(dict.fromkeys(item["id"] for item in chosen)), used


def conversation_answer(user: str, extra_text: str = "") -> dict[str, Any]:
    items, words, count = _parts(user)
    conversations = []
    for n in range(count):
        item_ids, used = _cited(items, words, n)
        turns = [
            {
                "speaker": speaker,
                "text": " ".join(w["word"] for w in used) + extra_text,
                "romanization": " ".join(w.get("romanization") or w["word"] for w in used),
                "translation": f"line {t + 1} of conversation {n + 1}",
            }
            for t, speaker in enumerate(("A", "B", "A", "B"))
        ]
        conversations.append(
            {
                "title": f"Conversation {n + 1}",
                "scenario": "Two friends meet.",
                "turns": turns,
                "item_ids": item_ids,
                "vocab_words": [w["word"] for w in used],
            }
        )
    return {"conversations": conversations}


def story_answer(user: str, extra_text: str = "") -> dict[str, Any]:
    items, words, count = _parts(user)
    stories = []
    for n in range(count):
        item_ids, used = _cited(items, words, n)
        stories.append(
            {
                "title": f"Story {n + 1}",
                "paragraphs": [
                    {
                        "text": " ".join(w["word"] for w in used) + extra_text,
                        "romanization": " ".join(w.get("romanization") or w["word"] for w in used),
                        "translation": f"paragraph {p + 1}",
                    }
                    for p in range(2)
                ],
                "glossary": [{"word": used[0]["word"], "meaning": used[0].get("definition") or "a word"}],
                "item_ids": item_ids,
                "vocab_words": [w["word"] for w in used],
            }
        )
    return {"stories": stories}


def install(fake: FakeClaude, extra_text: str = "") -> FakeClaude:
    """Make `fake` answer content calls by default."""
    fake.tool_answers["ConversationBatch"] = lambda user: conversation_answer(user, extra_text)
    fake.tool_answers["StoryBatch"] = lambda user: story_answer(user, extra_text)
    return fake
