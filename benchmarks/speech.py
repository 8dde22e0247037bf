"""Benchmark the speech task: keyword stability over seeds and threads, transcription, real recordings.

    python benchmarks/speech.py                       # every part (long: see the timings it prints)
    python benchmarks/speech.py --parts keyword       # one or more of: keyword cross real transcribe
                                                      # lovo windows cost (issue 30)
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
- ``lovo``: leave one voice family out (``mltasks_speech.lovo``; 14 families: eight espeak-ng
  accents, flite, Festival, four languages of accented speakers): the whisper-tiny classifier
  trained on every other family, tested on the held-out one; mean and worst family (target:
  mean >= 0.93, worst >= 0.85), calibration (ECE) and the abstain table, with no augmentation,
  each augmentation kind alone, all five, the kinds that helped, without the silence trim, and
  at engine level (espeak-ng / recorded / accented). Encoding is done once per feature set
  (``--cache DIR`` keeps it); each fold refits only the classifier. 1 thread.
- ``windows``: the default model (seed 0's split) on held-out clips placed in longer clips (a quiet
  lead-in, a noisy tail, a loud click after the word): the old framing (loudest 1 s) against the
  silence trim with each window pick; and the energy trim against torchaudio's ``vad``.
- ``cost``: one default ``mltasks run speech`` (``--cost-threads``, default 2): its wall time, the
  expected duration it printed, and what the rest of the run then took.

The ``real``, ``lovo`` and ``windows`` parts live in ``speech_unseen.py``. Timings are wall-clock;
the 1-minute load average is recorded because the machine may be shared.
"""

from __future__ import annotations

import argparse
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
from speech_unseen import load_average, lovo_part, print_lovo, real_part, windows_part

import mltasks
from mltasks.config import quick_config

OUT = Path(__file__).resolve().parent / "results" / "speech.json"
SEEDS = (0, 1, 2)
TTA_SHIFT_S = 0.05


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
            before, began = load_average(), time.perf_counter()
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
                         "run_wall_s": round(wall, 1), "load_avg_before_after": [before, load_average()]})
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
    config = quick_config(SpeechConfig(num_threads=2)) if quick else SpeechConfig(num_threads=2)
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
                     "train_s": round(time.perf_counter() - began, 1), "load_avg_after": load_average()})
        print(json.dumps(rows[-1]), flush=True)
    return {"split": base.info["split"], "rows": rows}


def transcribe_part(out: Path, quick: bool, threads: int) -> dict[str, Any]:
    """The default transcribe run; greedy and beam decoding of the same model on the held-out voices."""
    from mltasks_speech.metrics import error_rates

    before, began = load_average(), time.perf_counter()
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
            "run_wall_s": round(wall, 1), "load_avg_before_after": [before, load_average()],
            "target_wer<=0.10": scores[task.config.decoder]["wer"] <= 0.10}


# --- issue 30: the default's cost ------------------------------------------------------------


def cost_part(out: Path, threads: int, quick: bool) -> dict[str, Any]:
    """One default ``mltasks run speech`` (seed 0): wall time, the expected-duration line it printed
    and what the rest of the run then took."""
    import re

    before, began = load_average(), time.perf_counter()
    result = mltasks.run("speech", overrides={"num_threads": threads}, seed=0, out=out / "cost", quick=quick)
    wall = time.perf_counter() - began
    log = (result.run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")

    def when(line: str) -> float:
        return time.mktime(time.strptime(stamp.match(line)[1], "%Y-%m-%d %H:%M:%S"))  # type: ignore[index]

    timed = [line for line in log if stamp.match(line)]
    line = next((x for x in timed if "expected duration" in x), "")
    said = re.search(r"about (?:(\d+) min )?(\d+) s", line)
    expected = (int(said[1] or 0) * 60 + int(said[2])) if said else None
    timings = json.loads((result.run_dir / "run.json").read_text())["timings"]
    return {"num_threads": threads, "seed": 0, "accuracy": round(result.metrics["accuracy"], 4),
            "run_wall_s": round(wall, 1), "timings": timings, "expected_line": line.split(" ", 3)[-1],
            "expected_s": expected, "actual_after_line_s": round(when(timed[-1]) - when(line), 1) if line else None,
            "load_avg_before_after": [before, load_average()]}


def main() -> None:
    """Run the chosen parts and merge their rows into the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized runs (checks the script only)")
    parser.add_argument("--parts", nargs="+", default=["keyword", "cross", "real", "transcribe"],
                        choices=["keyword", "cross", "real", "transcribe", "lovo", "windows", "cost"])
    parser.add_argument("--cache", type=Path, help="lovo part: keep the encoded features here (reruns skip encoding)")
    parser.add_argument("--cost-threads", type=int, default=2, help="cost part: num_threads of the default run")
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
            elif part == "lovo":
                cache = None if args.quick else args.cache  # smoke-sized features are never cached
                if cache:
                    cache.mkdir(parents=True, exist_ok=True)
                found["leave_one_voice_family_out"] = lovo_part(args.quick, cache)
                print_lovo(found["leave_one_voice_family_out"])
            elif part == "windows":
                found["long_clips"] = windows_part(args.quick, args.cache)
                print(json.dumps(found["long_clips"]["accuracy"], indent=1))
            elif part == "cost":
                found["default_cost"] = cost_part(out, args.cost_threads, args.quick)
                print(json.dumps(found["default_cost"], indent=1))
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
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_end": load_average(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
