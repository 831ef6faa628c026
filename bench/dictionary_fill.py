"""Plan's dictionary fill (`havachat.languages.dictionary`): coverage, time and memory per sample list.

Each list in a fresh subprocess, as a cold Plan container meets it: read, romanization filled, then
`fill_definitions` timed (the dictionary file's first read plus one lookup per word lacking a
definition). Lists that have definitions (HSK 1, JLPT N5) are stripped of them first, to measure
coverage. Peak RSS is the whole process's (`ru_maxrss`: imports and the parsed list included); the
dictionary's own share is the difference from `before fill`. Batches: what `plan_with_settings`
makes with Claude before and after the fill (a filled word carries more tokens).

    python -m bench.dictionary_fill
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import ROOT, VOCAB_DIR, table

LISTS = [("zh_top5000.csv", "zh"), ("zh_top20000.csv", "zh"), ("zh_hsk1.csv", "zh"), ("ja_jlpt_n5.csv", "ja")]

_FILL = """
import json, resource, sys, time
from havachat.languages.dictionary import DEFINITION_MARK, fill_definitions
from havachat.models import Level
from havachat.planning import plan_with_settings
from havachat.readings import fill_romanization
from havachat.settings import Provider, Settings
from havachat.vocab import read_vocab_file

path, language = sys.argv[1], sys.argv[2]
vocab = fill_romanization(read_vocab_file(path, language=language), language)
vocab = vocab.model_copy(update={"items": [w.model_copy(update={"definition": None}) for w in vocab.items]})
before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
filled = fill_definitions(vocab, language)
seconds = time.perf_counter() - started
after_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
settings, level = Settings(provider=Provider.ANTHROPIC), Level.parse("HSK6")
plans = [plan_with_settings(v, settings, run_id="b", language=language, level=level) for v in (vocab, filled)]
batches = [len(plan.batches) for plan in plans]
print(json.dumps({
    "words": len(vocab.items),
    "filled": sum(1 for w in filled.items if DEFINITION_MARK in w.extra),
    "seconds": seconds, "before_mb": before_mb, "after_mb": after_mb, "batches": batches,
}))
"""


def measure(name: str, language: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _FILL, str(VOCAB_DIR / name), language],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    rows = []
    for name, language in LISTS:
        m = measure(name, language)
        rows.append(
            (
                name,
                f"{m['words']:,}",
                f"{m['filled']:,} ({m['filled'] / m['words']:.1%})",
                f"{m['seconds']:.2f}",
                f"{m['before_mb']:.0f} -> {m['after_mb']:.0f}",
                f"{m['batches'][0]} -> {m['batches'][1]}",
            )
        )
    print(table(["list", "words", "filled", "fill s (cold)", "peak RSS MB", "batches (Claude)"], rows))


if __name__ == "__main__":
    main()
