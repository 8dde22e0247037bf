"""The embedded spoken-digit set, connected-digit utterances built from it, and the tiny
sample datasets the tests use (written as real WAV files and a manifest CSV)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from mltasks_speech.audio import read_audio
from mltasks_speech.layout import Item, speaker_of

DIGITS_DIR = Path(__file__).parent / "data" / "digits"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digits_dir() -> Path:
    """The shipped folder ``<word>/<voice>_nohash_<n>.flac`` (8 kHz, made by scripts/make_digits.py)."""
    return DIGITS_DIR


def engine_of(speaker: str) -> str:
    """The synthesis engine of a voice id (``espeak-en-us-m3`` -> ``espeak``)."""
    return speaker.split("-", 1)[0]


def engine_strata(items: list[Item]) -> dict[str, str]:
    """Voice -> engine, so that every engine has voices in train, val and test."""
    return {str(i.speaker): engine_of(str(i.speaker)) for i in items if i.speaker}


def connected_digits(items: list[Item], per_voice: int, seed: int, max_words: int = 4) -> list[dict]:
    """Plan utterances of 2..``max_words`` digits, each said by one voice from its own clips.

    :returns: one dict per utterance: ``speaker``, ``paths`` (clips in order), ``text``.
    """
    rng = np.random.RandomState(seed)
    by_voice: dict[str, dict[str, list[Path]]] = {}
    for item in items:
        by_voice.setdefault(str(item.speaker), {}).setdefault(item.label, []).append(item.path)
    plans = []
    for voice in sorted(by_voice):
        words = sorted(by_voice[voice])
        for _ in range(per_voice):
            chosen = [words[i] for i in rng.randint(0, len(words), size=rng.randint(2, max_words + 1))]
            paths = [by_voice[voice][w][rng.randint(len(by_voice[voice][w]))] for w in chosen]
            plans.append({"speaker": voice, "paths": paths, "text": " ".join(chosen)})
    return plans


def join_clips(paths: list[Path], rate: int, seed: int) -> np.ndarray:
    """Concatenate clips (resampled with torchaudio to ``rate``) with 0.05-0.25 s pauses."""
    from mltasks_speech.audio import resample

    rng = np.random.RandomState(seed)
    parts = [np.zeros(int(rate * rng.uniform(0.05, 0.2)), dtype=np.float32)]
    for path in paths:
        audio, orig = read_audio(path)
        parts.append(resample(audio, orig, rate).numpy())
        parts.append(np.zeros(int(rate * rng.uniform(0.05, 0.25)), dtype=np.float32))
    return np.concatenate(parts)


def _pick(words: list[str], voices_per_engine: int) -> list[Item]:
    items = []
    for word in words:
        for path in sorted((DIGITS_DIR / word).glob("*.flac")):
            items.append(Item(path, word, speaker_of(path)))
    voices = sorted({str(i.speaker) for i in items})
    keep: list[str] = []
    for engine in ("espeak", "flite"):
        keep += [v for v in voices if v.startswith(engine)][:voices_per_engine]
    first: dict[tuple[str, str], Item] = {}
    for item in items:
        if item.speaker in keep:
            first.setdefault((str(item.speaker), item.label), item)  # one clip per voice and word
    return list(first.values())


def write_sample(directory: Path, words: int = 4, voices_per_engine: int = 5, utterances: int = 24) -> Path:
    """A tiny dataset in both accepted formats, copied from the embedded clips as 16-bit WAV.

    - ``<word>/<voice>_nohash_0.wav``: the keyword layout (``words`` words, ``2 *
      voices_per_engine`` voices, one clip per voice and word);
    - ``manifest.csv`` + ``_utterances/*.wav``: connected-digit utterances for ``mode=transcribe``
      (the leading ``_`` keeps the keyword reader out of that folder).

    :returns: ``directory``.
    """
    directory = Path(directory)
    items = _pick(WORDS[:words], voices_per_engine)
    for item in items:
        audio, rate = read_audio(item.path)
        target = directory / item.label / f"{item.speaker}_nohash_0.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(target), audio, rate, subtype="PCM_16")
    plans = connected_digits(items, per_voice=max(1, utterances // max(1, 2 * voices_per_engine)), seed=0,
                             max_words=3)
    (directory / "_utterances").mkdir(exist_ok=True)
    with open(directory / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "transcript"])
        for k, plan in enumerate(plans):
            name = f"_utterances/{plan['speaker']}_nohash_{k}.wav"
            sf.write(str(directory / name), join_clips(plan["paths"], 16000, k), 16000, subtype="PCM_16")
            writer.writerow([name, plan["text"]])
    return directory
