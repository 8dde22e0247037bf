"""Benchmark the speech task: keyword stability over seeds and threads, transcription, real recordings.

    python benchmarks/speech.py                       # every part (long: see the timings it prints)
    python benchmarks/speech.py --parts keyword       # one or more of: keyword cross real transcribe
    python benchmarks/speech.py --quick               # smoke-sized check that the script works

Parts (each merges its rows into ``benchmarks/results/speech.json``, so parts may run apart):

- ``keyword``: the default ``mltasks run speech`` for seeds 0, 1, 2 at ``num_threads`` 1 and 2:
  held-out-voice accuracy (target: mean >= 0.97, spread <= 2 points), accuracy per engine,
  worst voice, training time; each trained model is also scored with test-time augmentation
  (``tta_shift_s=0.05``), which changes only inference, so both figures come from one training.
  The default model is ``whisper-tiny``; the JSON's ``keyword_cnn`` keeps the figures of the
  previous default, ``--set model=cnn``, on the same data and splits.
- ``cross``: trained on one engine's voices, tested on another's (espeak-ng -> flite/Festival,
  flite/Festival -> espeak-ng, flite -> Festival), on the default split of seed 0.
- ``real``: the real recordings of Debian ``pocketsphinx-testdata`` (LibriVox sentences, the
  "cards" and "go forward" commands, a TIDIGITS digit string) through ``pretrained=pocketsphinx``
  with its language model and with each clip's grammar, and ``pretrained=whisper-tiny``, by the
  same task code and WER.
- ``transcribe``: the default ``mode=transcribe`` run (CTC on connected digits by held-out voices):
  WER/CER with greedy and beam decoding of the same model, and the run time.

Timings are wall-clock; the 1-minute load average is recorded because the machine may be shared.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import mltasks

OUT = Path(__file__).resolve().parent / "results" / "speech.json"
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
SEEDS = (0, 1, 2)
TTA_SHIFT_S = 0.05


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _scores(task: Any, test: Any) -> dict[str, Any]:
    """Accuracy overall, per engine, per voice (worst) and with the voices weighted equally."""
    from mltasks_speech.default_data import engine_of

    predicted = task.predict_labels(test)
    truth = test.labels
    hits = np.array([p == t for p, t in zip(predicted, truth)])
    voices: dict[str, list[bool]] = {}
    for speaker, hit in zip(test.speakers, hits):
        voices.setdefault(speaker, []).append(bool(hit))
    engines = {}
    for engine in sorted({engine_of(s) for s in test.speakers}):
        pick = [i for i, s in enumerate(test.speakers) if engine_of(s) == engine]
        engines[engine] = {"accuracy": round(float(hits[pick].mean()), 4), "clips": len(pick),
                           "voices": len({test.speakers[i] for i in pick})}
    per_voice = {v: float(np.mean(h)) for v, h in voices.items()}
    return {"accuracy": round(float(hits.mean()), 4), "per_engine": engines,
            "voice_balanced_accuracy": round(float(np.mean(list(per_voice.values()))), 4),
            "worst_voice": min(per_voice, key=per_voice.get), "worst_voice_accuracy": round(min(per_voice.values()), 4),
            "recorded_voices": {v: round(a, 4) for v, a in sorted(per_voice.items()) if engine_of(v) != "espeak"}}


def keyword_runs(out: Path, quick: bool, seeds: list[int], threads_list: list[int],
                 settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Default runs (plus ``settings``) for every seed and thread count; plain and TTA scores of each model."""
    rows = []
    for threads in threads_list:
        for seed in seeds:
            before, began = _load(), time.perf_counter()
            result = mltasks.run("speech", overrides={**(settings or {}), "num_threads": threads}, seed=seed,
                                 out=out / f"kw-{threads}-{seed}", quick=quick)
            wall = time.perf_counter() - began
            task = result.task
            test = task.load_data(None).test
            plain = _scores(task, test)
            task.config = dataclasses.replace(task.config, tta_shift_s=TTA_SHIFT_S)
            tta = _scores(task, test)
            timings = json.loads((result.run_dir / "run.json").read_text())["timings"]
            rows.append({"seed": seed, "num_threads": threads, "run_accuracy": round(result.metrics["accuracy"], 4),
                         **plain, "tta": tta, "test_clips": len(test), "train_s": timings["train_s"],
                         "run_wall_s": round(wall, 1), "load_avg_before_after": [before, _load()]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def keyword_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread (max - min, in points) of the held-out-voice accuracy per thread count."""
    summary: dict[str, Any] = {}
    for name, pick in (("plain", lambda r: r["accuracy"]), ("tta", lambda r: r["tta"]["accuracy"])):
        for threads in sorted({r["num_threads"] for r in rows}):
            values = [pick(r) for r in sorted(rows, key=lambda r: r["seed"]) if r["num_threads"] == threads]
            summary[f"{name}_threads{threads}"] = {"mean": round(statistics.mean(values), 4),
                                                   "spread_points": round(100 * (max(values) - min(values)), 2),
                                                   "seeds": sorted(r["seed"] for r in rows
                                                                   if r["num_threads"] == threads),
                                                   "values": values}
    plain = [v for k, v in summary.items() if k.startswith("plain")]
    summary["target_mean>=0.97_spread<=2_on_3_seeds"] = all(
        v["mean"] >= 0.97 and v["spread_points"] <= 2 and len(v["values"]) >= 3 for v in plain)
    return summary


def _pooled(task: Any, parts: list[Any]) -> dict[str, Any]:
    """Accuracy over several ClipSets taken together, with the clips and voices scored."""
    parts = [p for p in parts if len(p)]
    hits = sum(task.evaluate(p)["accuracy"] * len(p) for p in parts)
    clips = sum(len(p) for p in parts)
    voices = sorted({s for p in parts for s in p.speakers})
    return {"accuracy": round(hits / max(clips, 1), 4), "clips": clips, "voices": voices if len(voices) < 8 else
            f"{len(voices)} voices"}


def cross_part(quick: bool) -> dict[str, Any]:
    """Train on one engine's (or family's) voices of the default split (seed 0), test on another's.

    Rows: espeak-ng only -> every real flite/Festival voice (no recorded voice was heard);
    flite + Festival only (the three training speakers and their pitch-shifted variants) -> the
    held-out speakers and every espeak-ng voice; flite only -> Festival voices, split into the
    held-out speakers (new engine and new person) and the training speakers (new engine only);
    accented only -> every native flite/Festival voice and every espeak-ng voice; everything but
    the accented voices -> the held-out people (what the accented voices add to the default).
    """
    import torch
    from mltasks_speech.config import SpeechConfig
    from mltasks_speech.default_data import ACCENTED, RECORDED, engine_of, is_shifted
    from mltasks_speech.task import SpeechTask

    from mltasks import Splits
    from mltasks.progress import null_progress

    torch.set_num_threads(2)
    config = SpeechConfig(smoke=quick, num_threads=2)
    base = SpeechTask(config).load_data(None)

    def pick(split: Any, keep: Any) -> Any:
        return split.subset([i for i, s in enumerate(split.speakers) if keep(s)])

    def espeak(s: str) -> bool:
        return engine_of(s) == "espeak"

    def recorded(s: str) -> bool:
        return engine_of(s) in RECORDED

    def accented(s: str) -> bool:
        return engine_of(s) == ACCENTED

    def real(engine: str) -> Any:
        return lambda s: engine_of(s) == engine and not is_shifted(s)

    everything = [base.train, base.val, base.test]
    plans = [
        ("espeak-ng", espeak, True, {
            "held-out espeak-ng voices": [pick(base.test, espeak)],
            "every real flite/Festival voice (all 5 speakers, none heard)": [
                pick(p, lambda s: recorded(s) and not is_shifted(s)) for p in everything]}),
        ("flite + Festival (3 training speakers, with their pitch-shifted variants)", recorded, False, {
            "held-out flite/Festival speakers": [pick(base.test, recorded)],
            "every espeak-ng voice": [pick(p, espeak) for p in everything]}),
        ("flite (3 training speakers, with their pitch-shifted flite variants)", lambda s: engine_of(s) == "flite",
         False, {
             "flite voices of the held-out speakers": [pick(base.test, real("flite"))],
             "Festival voices of the held-out speakers (new engine, new person)": [pick(base.test, real("festival"))],
             "Festival voices of the training speakers (new engine, same person)": [
                 pick(base.train, real("festival"))]}),
        ("accented (8 speakers of other languages and 4 pitched-up variants)", accented, False, {
            "every real flite/Festival voice (all 5 native speakers, none heard)": [
                pick(p, lambda s: recorded(s) and not is_shifted(s)) for p in everything],
            "every espeak-ng voice": [pick(p, espeak) for p in everything]}),
        ("everything but the accented voices (the data before them)", lambda s: not accented(s), True, {
            "held-out flite/Festival speakers": [pick(base.test, recorded)],
            "held-out espeak-ng voices": [pick(base.test, espeak)]}),
    ]
    rows = []
    for name, keep, with_val, tests in plans:
        splits = Splits(train=pick(base.train, keep), val=pick(base.val, keep) if with_val else None, test=None)
        splits.train.noise = None
        began = time.perf_counter()
        task = SpeechTask(config).train(splits, null_progress())
        rows.append({"trained_on": name, "seed": 0, "num_threads": 2, "train_clips": len(splits.train),
                     "train_voices": len(set(splits.train.speakers)),
                     **{label: _pooled(task, parts) for label, parts in tests.items()},
                     "train_s": round(time.perf_counter() - began, 1), "load_avg_after": _load()})
        print(json.dumps(rows[-1]), flush=True)
    return {"split": base.info["split"], "rows": rows}


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


def transcribe_part(out: Path, quick: bool, threads: int) -> dict[str, Any]:
    """The default transcribe run; greedy and beam decoding of the same model on the held-out voices."""
    from mltasks_speech.metrics import error_rates

    before, began = _load(), time.perf_counter()
    result = mltasks.run("speech", overrides={"mode": "transcribe", "num_threads": threads}, out=out / "ctc",
                         quick=quick)
    wall = time.perf_counter() - began
    task = result.task
    test = task.load_data(None).test
    scores = {}
    for decoder in ("greedy", "beam"):
        start = time.perf_counter()
        hyps = task.transcribe_waves(test.waves, decoder)
        scores[decoder] = {**{k: round(v, 4) for k, v in error_rates(test.texts, hyps).items()},
                           "utterances_per_s": round(len(hyps) / (time.perf_counter() - start), 1)}
    timings = json.loads((result.run_dir / "run.json").read_text())["timings"]
    epochs = task.config.epochs_for_mode()
    return {"row": f"default transcribe run ({epochs} epochs), connected digits, held-out voices",
            "seed": task.config.seed, "num_threads": threads, "default_decoder": task.config.decoder,
            "test_utterances": len(test),
            "greedy": scores["greedy"], "beam": scores["beam"], "train_s": timings["train_s"],
            "run_wall_s": round(wall, 1), "load_avg_before_after": [before, _load()],
            "target_wer<=0.10": scores[task.config.decoder]["wer"] <= 0.10}


def main() -> None:
    """Run the chosen parts and merge their rows into the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized runs (checks the script only)")
    parser.add_argument("--parts", nargs="+", default=["keyword", "cross", "real", "transcribe"],
                        choices=["keyword", "cross", "real", "transcribe"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="keyword part: seeds to run")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="keyword part: num_threads values")
    parser.add_argument("--transcribe-threads", type=int, default=2, help="transcribe part: num_threads")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="keyword part: an experiment with these settings; its rows go to keyword_experiments")
    args = parser.parse_args()
    from mltasks.config import parse_option

    pairs = [item.partition("=") for item in args.set]
    settings = {key: parse_option(value) for key, _, value in pairs}
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for part in args.parts:
            began = time.perf_counter()
            if part == "keyword":
                found["keyword_runs"] = keyword_runs(out, args.quick, args.seeds, args.threads, settings)
            elif part == "cross":
                found["cross_engine"] = cross_part(args.quick)
            elif part == "real":
                found["real_recordings"] = real_part()
            else:
                found["transcribe"] = transcribe_part(out, args.quick, args.transcribe_threads)
            print(f"{part}: {time.perf_counter() - began:.0f} s", flush=True)
    if args.quick:  # a check of the script: the figures mean nothing, so they are not kept
        print(json.dumps(found, indent=2))
        return
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}  # parts may run apart: merge
    if "keyword_runs" in found and settings:  # an experiment: kept apart from the default's runs
        results.setdefault("keyword_experiments", []).append(
            {"what": "--set " + " ".join(args.set), "runs": found.pop("keyword_runs")})
    if "keyword_runs" in found:  # runs of other seeds/threads (other processes) are kept
        done = {(r["seed"], r["num_threads"]) for r in found["keyword_runs"]}
        old = [r for r in results.get("keyword", {}).get("runs", []) if (r["seed"], r["num_threads"]) not in done]
        runs = sorted(old + found.pop("keyword_runs"), key=lambda r: (r["num_threads"], r["seed"]))
        found["keyword"] = {"runs": runs, "summary": keyword_summary(runs)}
    results.update(found)
    results.setdefault("machine", {})[",".join(args.parts)] = {
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_end": _load(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
