"""Rebuild the text plugin's embedded default dataset from Debian's ``fortunes`` package.

Run (needs ``apt-get install fortunes``; the result ships inside the plugin, so users never need it)::

    python plugins/text/scripts/build_default_data.py [--source /usr/share/games/fortunes] [--max-per-class 200]

Each fortune file is a category; entries are separated by a line holding ``%``. We keep ten
topical categories, undo terminal overstriking, collapse whitespace, drop very short and very
long entries, deduplicate across categories (a text seen under two labels is dropped
entirely, so no duplicate can straddle train and test), and cap each class with a fixed seed.
The output is ``mltasks_text/data/fortunes.jsonl.gz``: one ``{"text": ..., "label": ...}``
per line, written with gzip mtime 0 so a rebuild is byte-identical. The fortunes are
BSD-licensed (see /usr/share/doc/fortunes/copyright).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

#: Topical categories with a clear subject (people/cookie/zippy are about style, not topic).
CATEGORIES = ("art", "computers", "education", "food", "law", "love", "medicine", "politics", "science", "sports")
OUT = Path(__file__).resolve().parents[1] / "mltasks_text" / "data" / "fortunes.jsonl.gz"


def clean(entry: str) -> str:
    """Undo overstriking (``X\\bY`` -> ``Y``) and collapse whitespace."""
    while "\b" in entry:
        entry = re.sub(".\b", "", entry, count=1) if re.search(".\b", entry) else entry.replace("\b", "")
    return " ".join(entry.split())


def read_category(path: Path) -> list[str]:
    """The cleaned entries of one fortune file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [clean(e) for e in re.split(r"^%\s*$", text, flags=re.MULTILINE)]


def build(source: Path, max_per_class: int, min_chars: int, max_chars: int, seed: int) -> list[dict[str, str]]:
    """Read, filter, deduplicate and cap the categories; records sorted by label then text."""
    by_text: dict[str, set[str]] = defaultdict(set)
    for category in CATEGORIES:
        for entry in read_category(source / category):
            if min_chars <= len(entry) <= max_chars:
                by_text[entry].add(category)
    per_class: dict[str, list[str]] = defaultdict(list)
    for text, labels in by_text.items():
        if len(labels) == 1:  # ambiguous duplicates are dropped
            per_class[next(iter(labels))].append(text)
    rng = random.Random(seed)
    records = []
    for label in CATEGORIES:
        texts = sorted(per_class[label])
        rng.shuffle(texts)
        records += [{"text": t, "label": label} for t in sorted(texts[:max_per_class])]
    return records


def main() -> None:
    """Parse arguments, build, write the gzip file and print the class counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/games/fortunes"))
    parser.add_argument("--max-per-class", type=int, default=200)
    parser.add_argument("--min-chars", type=int, default=20)
    parser.add_argument("--max-chars", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    records = build(args.source, args.max_per_class, args.min_chars, args.max_chars, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    with args.out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
        fh.write(payload)
    counts = Counter(r["label"] for r in records)
    print(f"wrote {len(records)} texts to {args.out} ({args.out.stat().st_size / 1024:.0f} KB)")
    for label, n in sorted(counts.items()):
        print(f"  {label:12s} {n}")


if __name__ == "__main__":
    main()
