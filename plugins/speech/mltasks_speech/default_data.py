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
#: engines whose voices are made from recordings of one real person (several voices may share one).
RECORDED = ("flite", "festival")
#: real speakers of other languages reading respelt English digits (Festival's Czech, Finnish,
#: Catalan and Russian voices): training material only, like the pitch-shifted variants.
ACCENTED = "accented"


#: the accented voices ship apart (GPL/LGPL voice data): ``pip install 'mltasks-speech[accented]'``
ACCENTED_PACKAGE = "mltasks_speech_accented"


def digits_dir() -> Path:
    """The folder ``<word>/<voice>_nohash_<n>.flac`` (8 kHz, made by scripts/make_digits.py): the
    shipped one, or, with ``mltasks-speech-accented`` installed, a view joining it and the accented
    voices (symbolic links in ``MLTASKS_CACHE_DIR``, made once)."""
    import importlib.util

    spec = importlib.util.find_spec(ACCENTED_PACKAGE)  # found, never imported
    if spec is None or not spec.submodule_search_locations:
        return DIGITS_DIR
    accented = Path(next(iter(spec.submodule_search_locations))) / "digits"
    return _joined((DIGITS_DIR, accented))


def _joined(roots: tuple[Path, ...]) -> Path:
    """A cache folder of ``<word>/<file>`` links to the clips of every root (keyed by their listing)."""
    from mltasks.cache import atomic_dir, cache_dir, content_key

    clips = [(root, clip.relative_to(root)) for root in roots for clip in sorted(root.glob("*/*.flac"))]
    key = content_key([str(r) for r in roots], [(str(rel), (root / rel).stat().st_size) for root, rel in clips])
    view = cache_dir("speech") / f"digits-{key[:16]}"
    if not view.is_dir():
        with atomic_dir(view) as tmp:
            for root, rel in clips:
                (tmp / rel).parent.mkdir(exist_ok=True)
                (tmp / rel).symlink_to(root / rel)
    return view


def engine_of(speaker: str) -> str:
    """The synthesis engine of a voice id (``espeak-en-us-m3`` -> ``espeak``)."""
    return speaker.split("-", 1)[0]


def engine_strata(items: list[Item]) -> dict[str, str]:
    """Voice -> engine, so that every engine has voices in train, val and test."""
    return {str(i.speaker): engine_of(str(i.speaker)) for i in items if i.speaker}


def speaker_of_voice(voice: str) -> str:
    """The person behind a voice id: flite and Festival voices are built from recordings of one
    person (CMU ARCTIC, CMU Kal), so ``flite-slt``, ``festival-slt`` and the pitch-shifted
    ``flite-slt-lo`` are all ``cmu-slt``; an espeak-ng voice (formant synthesis) is its own."""
    engine, _, rest = voice.partition("-")
    return f"cmu-{rest.split('-')[0]}" if engine in RECORDED else voice


def is_shifted(voice: str) -> bool:
    """Whether a voice is a pitch-shifted variant of a recorded speaker (``flite-kal-hi``)."""
    engine, _, rest = voice.partition("-")
    return engine in RECORDED and "-" in rest


def first_release(items: list[Item]) -> list[Item]:
    """The clips of the first release (espeak-ng and flite's own voices): transcription and the
    sample data are built from these, so their figures stay comparable across releases."""
    return [i for i in items if engine_of(str(i.speaker)) in ("espeak", "flite") and not is_shifted(str(i.speaker))]


def split_default(items: list[Item], val_fraction: float, test_fraction: float, seed: int) -> tuple[list[Item], str]:
    """Split the embedded clips by person, so no one is heard in two splits; returns the items
    kept and how they were split.

    - espeak-ng voices: ``val_fraction`` / ``test_fraction`` of them each (as before);
    - accented voices (real speakers of other languages): training only; the held-out people are
      native English voices, as before;
    - recorded speakers (the five people behind the flite and Festival voices): two go to test
      with all their real voices, the other three to training, so one voice cannot decide the
      score and training still hears three people. A pair is redrawn until the test holds at
      least three of their voices, every engine has a voice in test and one in train.
      Validation holds espeak-ng voices only (the best epoch is picked on them). The
      pitch-shifted variants of a test speaker are dropped: they are training material, not a
      real voice.
    """
    from mltasks_speech.layout import split_groups

    espeak = sorted({str(i.speaker) for i in items if engine_of(str(i.speaker)) not in (*RECORDED, ACCENTED)})
    plan = split_groups(espeak, val_fraction, test_fraction, seed)
    people = sorted({speaker_of_voice(str(i.speaker)) for i in items if engine_of(str(i.speaker)) in RECORDED})
    real = [i for i in items if engine_of(str(i.speaker)) in RECORDED and not is_shifted(str(i.speaker))]
    voices = {str(i.speaker) for i in real}
    engines = {engine_of(v) for v in voices}
    n_test = min(max(2, int(round(test_fraction * len(people)))), len(people) - 1)
    if len(people) < 2 or test_fraction <= 0:
        n_test = 0
    rng = np.random.RandomState(seed)
    for _ in range(100):
        test = set(rng.permutation(people)[:n_test].tolist())
        held = {v for v in voices if speaker_of_voice(v) in test}
        trained = {engine_of(v) for v in voices - held}
        if {engine_of(v) for v in held} == engines and trained == engines and len(held) >= min(3, len(voices)):
            break
    kept_items = []
    for item in items:
        voice = str(item.speaker)
        if engine_of(voice) == ACCENTED:
            item.split = "train"
        elif engine_of(voice) not in RECORDED:
            item.split = plan[voice]
        elif speaker_of_voice(voice) not in test:
            item.split = "train"
        elif is_shifted(voice):
            continue
        else:
            item.split = "test"
        kept_items.append(item)
    accented = len({str(i.speaker) for i in items if engine_of(str(i.speaker)) == ACCENTED})
    how = (f"by person ({len(espeak)} espeak-ng voices; {len(people)} recorded speakers, {sorted(test)} in test, "
           f"their pitch-shifted variants dropped; {accented} accented voices in training; no person in two splits)")
    return kept_items, how


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
    items = first_release(items)
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
