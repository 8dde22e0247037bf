"""Speech on data unlike the default split (parts of ``benchmarks/speech.py``; run them from there).

- ``real``: Debian ``pocketsphinx-testdata``'s real recordings through pocketsphinx and Whisper tiny.
- ``lovo``: leave one voice family out, with each augmentation kind (issue 30).
- ``windows``: held-out clips placed inside longer clips, each window pick against torchaudio's vad.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mltasks.config import quick_config

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
#: torchaudio's vad keeps this much before the point where it triggers (its own default is 0 s).
VAD_PRE_TRIGGER_S = 0.25


def load_average() -> float:
    """The 1-minute load average (the machine may be shared)."""
    return round(os.getloadavg()[0], 2)


def _real_manifests(folder: Path) -> dict[str, tuple[Path, str]]:
    """Manifests of the testdata recordings (raw PCM converted to WAV), by grammar group:
    name -> (manifest, grammar for pocketsphinx)."""
    import soundfile as sf

    def raw(name: str) -> Path:
        wav = folder / (Path(name).stem + ".wav")
        pcm = np.frombuffer((TESTDATA / name).read_bytes(), dtype="<i2").astype(np.float32) / 32768
        sf.write(str(wav), pcm, 16000, subtype="PCM_16")
        return wav

    def listed(sub: str, file: str) -> list[tuple[Path, str]]:
        rows = []
        for line in (TESTDATA / sub / file).read_text().splitlines():
            text, _, name = line.rpartition("(")
            rows.append((TESTDATA / sub / f"{name.strip(') ')}.wav", text.replace("<s>", "").replace("</s>", "")))
        return rows

    groups = {
        "librivox": (listed("librivox", "transcription"), ""),
        "cards": (listed("cards", "cards.transcription"), str(TESTDATA / "cards" / "cards.gram")),
        "goforward": ([(raw("goforward.raw"), "go forward ten meters")], str(TESTDATA / "goforward.gram")),
        "tidigits": ([(raw("tidigits/dhd.2934z.raw"), "two nine three four zero")],
                     "zero,oh,one,two,three,four,five,six,seven,eight,nine"),
    }
    out = {}
    for name, (rows, grammar) in groups.items():
        path = folder / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "transcript"])
            writer.writerows([(str(p), " ".join(t.split())) for p, t in rows])
        out[name] = (path, grammar)
    return out


def _recognise(manifest: Path, pretrained: str, grammar: str = "") -> tuple[list[str], list[str], float]:
    from mltasks_speech.config import SpeechConfig
    from mltasks_speech.task import SpeechTask

    from mltasks.progress import null_progress

    task = SpeechTask(SpeechConfig(mode="transcribe", pretrained=pretrained, grammar=grammar, num_threads=2))
    splits = task.load_data(manifest)
    task.train(splits, null_progress())
    began = time.perf_counter()
    hyps = task.transcribe_waves(splits.test.waves)
    return list(splits.test.texts), hyps, time.perf_counter() - began


def real_part() -> dict[str, Any]:
    """pocketsphinx (language model / grammar) and Whisper tiny on the same real recordings."""
    if not TESTDATA.is_dir():
        return {"skipped": f"{TESTDATA} not found (apt-get install pocketsphinx-testdata)"}
    from mltasks_speech.metrics import error_rates

    from mltasks.errors import MissingDependencyError

    out: dict[str, Any] = {"clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        manifests = _real_manifests(Path(tmp))
        systems = [("pocketsphinx (language model)", "pocketsphinx", False),
                   ("pocketsphinx (grammar)", "pocketsphinx", True), ("whisper-tiny", "whisper-tiny", False)]
        for label, pretrained, use_grammar in systems:
            refs, hyps, seconds, groups = [], [], 0.0, {}
            try:
                for name, (manifest, grammar) in manifests.items():
                    if use_grammar and not grammar:
                        continue
                    r, h, s = _recognise(manifest, pretrained, grammar if use_grammar else "")
                    groups[name] = {"wer": round(error_rates(r, h)["wer"], 4), "utterances": len(r), "example": h[0]}
                    refs, hyps, seconds = refs + r, hyps + h, seconds + s
            except MissingDependencyError as exc:
                out[label] = {"skipped": str(exc)}
                continue
            out[label] = {**{k: round(v, 4) for k, v in error_rates(refs, hyps).items()}, "utterances": len(refs),
                          "decode_s": round(seconds, 1), "by_set": groups}
            print(label, json.dumps(out[label]), flush=True)
    grammar_sets = [n for n in out["pocketsphinx (grammar)"].get("by_set", {})]
    out["note"] = ("the grammar row covers the clips that come with a grammar (" + ", ".join(grammar_sets) +
                   "); LibriVox is open text. Whisper's numerals are spelled out before scoring.")
    del out["clips"]
    return out



def _embedded(trim: bool, quick: bool) -> tuple[Any, np.ndarray, list[str]]:
    """Every embedded clip read as the task reads it (1 s at 16 kHz, trimmed or not): waves, class
    indices, voices; ``quick`` keeps every 15th clip."""
    import torch
    from mltasks_speech.datasets import read_clips
    from mltasks_speech.default_data import digits_dir
    from mltasks_speech.layout import find_items

    items, _ = find_items(digits_dir())
    items = items[::15] if quick else items
    waves, _, _ = read_clips([i.path for i in items], 16000, 16000, False, [], trim=trim)
    classes = sorted({i.label for i in items})
    return torch.stack(waves), np.array([classes.index(i.label) for i in items]), [str(i.speaker) for i in items]


def _encoded(name: str, make: Any, model: Any, cache: Path | None, timings: dict[str, float]) -> np.ndarray:
    """Pooled Whisper features of the waves ``make()`` returns, cached as ``cache/name.npy``."""
    from mltasks_speech.whisper_keyword import encode_waves

    from mltasks.progress import null_progress

    path = cache / f"{name}.npy" if cache else None
    if path is not None and path.is_file():
        timings[name] = json.loads(path.with_suffix(".json").read_text())["seconds"]  # measured when encoded
        return np.load(path)
    began = time.perf_counter()
    x = encode_waves(model, make(), null_progress(), name)
    timings[name] = round(time.perf_counter() - began, 1)
    print(f"  features {name}: {len(x)} clips in {timings[name]} s (augmenting included)", flush=True)
    if path is not None:
        np.save(path, x)
        path.with_suffix(".json").write_text(json.dumps({"seconds": timings[name], "load_avg": load_average()}))
    return x


def _mixed(copies: dict[str, np.ndarray], index: np.ndarray, kinds: list[str], seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy per clip of ``index``, its kind drawn at random from ``kinds`` (as
    ``augment_copies=1`` draws them)."""
    drawn = np.random.RandomState(seed).randint(len(kinds), size=len(index))
    return np.stack([copies[kinds[d]][i] for i, d in enumerate(drawn)]), index


def lovo_part(quick: bool, cache: Path | None) -> dict[str, Any]:
    """Leave one voice family out (``mltasks_speech.lovo``): no augmentation, each kind alone, all
    five, the kinds that helped; without the silence trim; and engine-level families."""
    import torch
    from mltasks_speech.features import FeatureSpec
    from mltasks_speech.lovo import plan_folds, score_fold, summarize
    from mltasks_speech.voice_augment import KINDS, augment_waves
    from mltasks_speech.voice_families import coarse_family_of, family_of
    from mltasks_speech.whisper_keyword import WhisperKeyword

    torch.set_num_threads(1)
    timings: dict[str, float] = {}
    model = WhisperKeyword(FeatureSpec(clip_samples=16000), 10, threads=1)
    waves, y, voices = _embedded(True, quick)
    x = _encoded("base", lambda: waves, model, cache, timings)
    index = np.arange(0, len(y), 2)  # copies of every 2nd clip: half the encoding (2 shared cores)
    copies = {kind: _encoded(f"aug-{kind}", lambda k=k, kind=kind: augment_waves(waves[index], [kind], 1, 16000,
                                                                                  seed=k)[0],
                             model, cache, timings) for k, kind in enumerate(KINDS)}
    folds = plan_folds(voices)
    configs: dict[str, Any] = {}

    def run(name: str, extra: Any, features: np.ndarray = x, plan: Any = folds) -> dict[str, Any]:
        began = time.perf_counter()
        rows = [score_fold(fold, features, y, extra) for fold in plan]
        out = {"summary": summarize(rows), "folds": rows, "fit_s": round(time.perf_counter() - began, 1)}
        print(f"  {name}: mean {out['summary']['mean']:.4f} worst {out['summary']['worst']:.4f} "
              f"({out['summary']['worst_family']})", flush=True)
        return out

    coarse = plan_folds(voices, coarse_family_of)
    configs["none"] = run("none", None)
    engine_level = {"none": run("engine level, none", None, plan=coarse)}
    for kind in KINDS:
        configs[kind] = run(kind, (copies[kind], index))
        engine_level[kind] = run(f"engine level, {kind}", (copies[kind], index), plan=coarse)
    configs["all five"] = run("all five", _mixed(copies, index, list(KINDS), 0))
    engine_level["all five"] = run("engine level, all five", _mixed(copies, index, list(KINDS), 0), plan=coarse)

    def helps(kind: str) -> bool:  # a higher mean at both levels, and no worse worst family at either
        return all(level[kind]["summary"]["mean"] > level["none"]["summary"]["mean"]
                   and level[kind]["summary"]["worst"] >= level["none"]["summary"]["worst"]
                   for level in (configs, engine_level))

    kept = [k for k in KINDS if helps(k)]
    if 1 < len(kept) < len(KINDS):
        configs["kept"] = run("kept: " + ",".join(kept), _mixed(copies, index, kept, 0))
        engine_level["kept"] = run("engine level, kept", _mixed(copies, index, kept, 0), plan=coarse)
    old = _embedded(False, quick)[0]
    changed = np.flatnonzero((old != waves).any(dim=1).numpy())  # only these clips did the trim change
    untrimmed = x.copy()
    untrimmed[changed] = _encoded("base-notrim-changed", lambda: old[changed], model, cache, timings)
    configs["no trim"] = run(f"no silence trim ({len(changed)} clips differ)", None, untrimmed)
    families = {}
    for voice in voices:
        families.setdefault(family_of(voice), set()).add(voice)
    from mltasks_speech.config import SpeechConfig

    defaults = SpeechConfig()
    chosen = [k.strip() for k in defaults.augment_kinds.split(",") if k.strip()]
    name = ("none" if not defaults.augment_copies else "all five" if len(chosen) == len(KINDS)
            else chosen[0] if len(chosen) == 1 else "kept" if chosen == kept else None)
    default = configs[name]["summary"] if name in configs else {"mean": float("nan"), "worst": float("nan")}
    return {"families": {f: len(v) for f, v in sorted(families.items())}, "configs": configs,
            "kept_kinds": kept, "engine_level": engine_level, "encode_s": timings,
            "augmented": f"one copy of every 2nd clip ({len(index)} of {len(y)}) per kind; 'all five' and 'kept' "
                         "draw each copy's kind at random, as augment_copies=1 does",
            "trim_changed_clips": len(changed),
            "default_config": f"{name} (augment_copies={defaults.augment_copies}, "
                              f"augment_kinds={defaults.augment_kinds})",
            "target_mean>=0.93_worst>=0.85": default["mean"] >= 0.93 and default["worst"] >= 0.85}


def print_lovo(found: dict[str, Any]) -> None:
    """The per-family accuracy table of every configuration, then the summary rows."""
    configs = found["configs"]
    names = list(configs)
    print("\nleave one voice family out: accuracy on the held-out family")
    print(f"{'family':22s}{'clips':>6s} " + " ".join(f"{n:>12s}" for n in names))
    for j, row in enumerate(configs["none"]["folds"]):
        cells = " ".join(f"{configs[n]['folds'][j]['accuracy']:12.3f}" for n in names)
        print(f"{row['family']:22s}{row['test_clips']:6d} {cells}")
    for key in ("mean", "worst", "ece"):
        print(f"{key:28s} " + " ".join(f"{configs[n]['summary'][key]:12.4f}" for n in names))
    levels = found["engine_level"]
    print(f"\nengine level: {'family':14s} " + " ".join(f"{n:>12s}" for n in levels))
    for j, row in enumerate(levels["none"]["folds"]):
        print(f"{'':14s}{row['family']:14s} " + " ".join(f"{levels[n]['folds'][j]['accuracy']:12.3f}" for n in levels))
    print("\nabstain (no augmentation; calibrated; mean over families)")
    for row in configs["none"]["summary"]["abstain"]:
        print(f"  min_confidence {row['min_confidence']}: answered {row['answered']:.3f}, accuracy when answered "
              f"{row['accuracy_answered']:.4f} (worst family {row['worst_accuracy_answered']:.3f}), "
              f"wrong answers withheld {row['errors_withheld']:.2f}")


def _long_clip(wave: Any, condition: int, rng: np.random.RandomState) -> tuple[Any, tuple[int, int]]:
    """The word placed in a longer clip: 0 a quiet lead-in (0.5-2 s at 35 dB below the word), 1 a
    noisy tail (0.5-1.5 s at 0-10 dB SNR), 2 a loud click 0.3 s after the word (6 dB above it).
    Returns the clip and where the word lies in it."""
    import torch

    power = float(wave.pow(2).mean())

    def noise(seconds: float, db: float) -> Any:
        return torch.from_numpy(rng.standard_normal(int(16000 * seconds)).astype(np.float32)) * np.sqrt(
            power * 10 ** (db / 10))

    gap = torch.zeros(int(16000 * 0.2))
    parts = {0: [noise(rng.uniform(0.5, 2.0), -35), wave, gap],
             1: [gap, wave, noise(rng.uniform(0.5, 1.5), -rng.uniform(0, 10))],
             2: [gap, wave, torch.zeros(int(16000 * 0.3)), noise(0.25, 6), gap]}[condition]
    start = len(parts[0])
    return torch.cat(parts), (start, start + len(wave))


def _train_from_cache(task: Any, splits: Any, features: np.ndarray) -> None:
    """What ``task.train`` does for whisper-tiny (C on validation, temperature, head installed),
    from the cached features of every embedded clip (rows in ``find_items`` order)."""
    from mltasks_speech.calibration import fit_temperature
    from mltasks_speech.default_data import digits_dir
    from mltasks_speech.keyword import feature_spec
    from mltasks_speech.layout import find_items
    from mltasks_speech.models import build_keyword_model
    from mltasks_speech.whisper_keyword import fit_head, head_logits, install_head

    row = {str(item.path): n for n, item in enumerate(find_items(digits_dir())[0])}

    def part(split: Any) -> tuple[np.ndarray, np.ndarray]:
        return features[[row[p] for p in split.paths]], split.targets.numpy()

    (x_train, y_train), (x_val, y_val) = part(splits.train), part(splits.val)
    scaler, clf, _ = fit_head(x_train, y_train, x_val, y_val, True)
    spec = feature_spec(task.config, splits.train)
    model = build_keyword_model("whisper-tiny", spec, len(splits.train.classes), 16, 0.2, "", 1)
    install_head(model, scaler, clf, fit_temperature(head_logits(scaler, clf, x_val), y_val))
    task.model_, task.spec_, task.classes_, task.history_ = model.eval(), spec, list(splits.train.classes), []


def windows_part(quick: bool, cache: Path | None) -> dict[str, Any]:
    """The default model (seed 0) on held-out clips placed in longer ones: the old framing (loudest
    1 s, no trim) against trimming + each window pick; and the energy trim against torchaudio's vad."""
    import torch
    import torchaudio.functional as AF
    from mltasks_speech.audio import fit_length, load_clip
    from mltasks_speech.config import SpeechConfig
    from mltasks_speech.keyword_predict import _clip_windows
    from mltasks_speech.silence import speech_span
    from mltasks_speech.task import SpeechTask
    from mltasks_speech.windows import PICKS, combine

    from mltasks.progress import null_progress

    torch.set_num_threads(1)
    task = SpeechTask(quick_config(SpeechConfig(num_threads=1)) if quick else SpeechConfig(num_threads=1))
    splits = task.load_data(None)
    began = time.perf_counter()
    if cache is not None and (cache / "base.npy").is_file() and not quick:
        _train_from_cache(task, splits, np.load(cache / "base.npy"))  # the lovo part's features: no re-encoding
    else:
        task.train(splits, null_progress())
    train_s = time.perf_counter() - began
    test = splits.test
    chosen = list(range(0, len(test), 2))
    rng = np.random.RandomState(0)
    names = ["quiet lead-in", "noisy tail", "loud click after"]
    hits: dict[str, list[list[bool]]] = {k: [[], [], []] for k in ("old: loudest 1 s, no trim", *PICKS)}
    vad_name = f"torchaudio vad (pre_trigger_time {VAD_PRE_TRIGGER_S} s)"
    trims: dict[str, list[tuple[float, float]]] = {"energy": [], "torchaudio vad (defaults)": [], vad_name: []}
    for n, i in enumerate(chosen):
        wave = load_clip(test.paths[i], 16000)[0]
        wave = wave / wave.abs().max() * 0.5
        condition = n % 3
        clip, (w0, w1) = _long_clip(wave, condition, rng)
        truth = int(test.targets[i])
        old = task.label_probabilities(fit_length(clip, 16000)[None])[0]
        hits["old: loudest 1 s, no trim"][condition].append(int(old.argmax()) == truth)
        windows, _, _ = _clip_windows(clip, 16000, 16000, 4000, True)
        probs = task.label_probabilities(windows)
        for pick in PICKS:
            hits[pick][condition].append(int(combine(probs, windows, pick)[0].argmax()) == truth)
        active = torch.nonzero(wave.abs() > 0.02).flatten()
        word = (w0 + int(active[0]), w0 + int(active[-1]))
        a, b = speech_span(clip, 16000)
        spans = {"energy": (a, b)}
        for name, pre in (("torchaudio vad (defaults)", 0.0), (vad_name, VAD_PRE_TRIGGER_S)):
            lead = AF.vad(clip, 16000, pre_trigger_time=pre)  # leading silence; the flipped clip for trailing
            a2 = len(clip) - len(lead) if len(lead) else 0
            tail = AF.vad(clip[a2:].flip(0), 16000, pre_trigger_time=pre)
            spans[name] = (a2, a2 + len(tail) if len(tail) else len(clip))
        for name, (s, e) in spans.items():
            trims[name].append((max(0, min(e, word[1]) - max(s, word[0])) / (word[1] - word[0]), (e - s) / 16000))
    table = {}
    for name, per in hits.items():
        table[name] = {**{names[c]: round(float(np.mean(per[c])), 4) for c in range(3)},
                       "all": round(float(np.mean(sum(per, []))), 4)}
    trim_rows = {name: {"word_kept_mean": round(float(np.mean([r[0] for r in rows])), 4),
                        "word_kept_min": round(float(min(r[0] for r in rows)), 4),
                        "clips_losing_over_5pct_of_the_word": round(float(np.mean([r[0] < 0.95 for r in rows])), 4),
                        "seconds_kept_mean": round(float(np.mean([r[1] for r in rows])), 2)}
                 for name, rows in trims.items()}
    plain = task.evaluate(test)["accuracy"]
    return {"clips": len(chosen), "per_condition": len(chosen) // 3, "accuracy": table, "trim": trim_rows,
            "plain_test_accuracy": round(plain, 4), "train_s": round(train_s, 1),
            "note": "seed 0's held-out test clips (every 2nd), each placed in one of the three longer clips; "
                    "windows of 1 s every 0.25 s over the trimmed clip"}
