"""The speech task's report: confusion matrix, per-voice and per-engine accuracy (keyword
mode); WER/CER by decoder and example transcripts (transcribe mode). Built from what
``evaluate`` scored (``Evaluation.details``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks import Evaluation, Report, Splits, plots

from mltasks_speech.metrics import error_rates, keyword_metrics, per_group_accuracy

if TYPE_CHECKING:
    from mltasks_speech.task import SpeechTask


def build_report(task: SpeechTask, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
    """Sections, tables and PNGs (written under ``run_dir``) for ``report.md``.

    :param evaluation: the scored split's evaluation; without one (or without details, from an
        older caller) the scored split is evaluated here.
    """
    report = Report()
    info = splits.info or {}
    facts = [f"- {k}: {v}" for k, v in info.items() if k in ("source", "layout", "split", "speakers")]
    facts += [f"- warning: {w}" for w in info.get("warnings", [])]
    report.add_section("Data", "\n".join(facts) or "-")
    data, name = splits.scored()
    if data is None or len(data) == 0:
        return report
    if evaluation is None or not evaluation.details:
        evaluation = task.evaluate(data)
    name = evaluation.split or name
    if task.config.mode == "transcribe":
        return _transcribe_report(task, report, name, data, evaluation.details)
    return _keyword_report(task, report, name, run_dir, evaluation.details)


def _keyword_report(task: SpeechTask, report: Report, name: str, run_dir: Path, details: dict[str, Any]) -> Report:
    truth, predicted, speakers = details["labels"], details["predicted"], details.get("speakers")
    path = plots.confusion_matrix(run_dir / "confusion_matrix.png", truth, predicted, task.classes_,
                                  title=f"Confusion matrix ({name}, {len(truth)} clips)")
    report.add_figure("Confusion matrix", path)
    if details.get("confidence") is not None:
        report.add_table(f"Answered and accuracy when answered, by min_confidence ({name})",
                         _abstain_rows(truth, predicted, details["confidence"], task.config.min_confidence))
    if not speakers:
        report.add_section("Accuracy per voice", "The file names carry no speaker ids (<speaker>_nohash_<n>.wav), "
                           "so clips were split at random and no per-voice accuracy can be given; the same voice "
                           "may be in train and test, so the score may be optimistic.")
        return report
    voices = per_group_accuracy(speakers, truth, predicted)
    counts: dict[str, int] = {}
    for s in speakers:
        counts[s] = counts.get(s, 0) + 1
    report.add_table(f"Accuracy per voice ({name})",
                     [{"voice": v, "clips": counts[v], "accuracy": a} for v, a in voices.items()])
    engines = [s.split("-", 1)[0] for s in speakers]
    if 1 < len(set(engines)) < len(engines):
        rows = []
        for engine in sorted(set(engines)):
            pick = [i for i, e in enumerate(engines) if e == engine]
            scores = keyword_metrics([truth[i] for i in pick], [predicted[i] for i in pick])
            rows.append({"group": engine, "clips": len(pick), **scores})
        report.add_table(f"Accuracy per voice family ({name})", rows)
    return report


def _abstain_rows(truth: list[str], predicted: list[str], confidence: list[float], chosen: float
                  ) -> list[dict[str, Any]]:
    """The share of clips answered and the accuracy on those, at a few ``min_confidence`` values
    (the probabilities are calibrated on the validation clips), the run's own value marked."""
    rows = []
    for threshold in sorted({0.0, 0.5, 0.7, 0.9, chosen}):
        kept = [i for i, c in enumerate(confidence) if c >= threshold]
        right = sum(truth[i] == predicted[i] for i in kept)
        rows.append({"min_confidence": f"{threshold:g}" + (" (this run)" if threshold == chosen else ""),
                     "answered": len(kept) / max(len(truth), 1), "accuracy_answered": right / max(len(kept), 1)})
    return rows


def _transcribe_report(task: SpeechTask, report: Report, name: str, data: Any, details: dict[str, Any]) -> Report:
    refs, shown, used = details["references"], details["hypotheses"], details["decoder"]
    rows = [{"decoder": used, **error_rates(refs, shown)}]
    if getattr(task, "recognizer_", None) is None:
        other = "beam" if used == "greedy" else "greedy"
        if other == "greedy" or importlib.util.find_spec("flashlight") is not None:  # beam is an optional extra
            rows.append({"decoder": other, **error_rates(refs, task.transcribe_waves(data.waves, other))})
    report.add_table(f"Error rates by decoder ({name})", rows)
    examples = [{"clip": Path(p).name, "reference": r, "hypothesis": h}
                for p, r, h in list(zip(details["paths"], refs, shown))[:12]]
    report.add_table(f"Example transcripts ({name})", examples)
    return report
