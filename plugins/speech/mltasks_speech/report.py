"""The speech task's report: confusion matrix, per-voice and per-engine accuracy (keyword
mode); WER/CER by decoder and example transcripts (transcribe mode)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks import Report, Splits, plots

from mltasks_speech.metrics import error_rates, keyword_metrics, per_group_accuracy

if TYPE_CHECKING:
    from mltasks_speech.task import SpeechTask


def _scored_split(splits: Splits) -> tuple[str, Any]:
    if splits.test is not None and len(splits.test):
        return "test", splits.test
    return "val", splits.val


def build_report(task: SpeechTask, splits: Splits, run_dir: Path) -> Report:
    """Sections, tables and PNGs (written under ``run_dir``) for ``report.md``."""
    report = Report()
    info = splits.info or {}
    facts = [f"- {k}: {v}" for k, v in info.items() if k in ("source", "layout", "split", "speakers")]
    report.add_section("Data", "\n".join(facts) or "-")
    name, data = _scored_split(splits)
    if data is None or len(data) == 0:
        return report
    if task.config.mode == "transcribe":
        return _transcribe_report(task, report, name, data)
    truth, predicted = data.labels, task.predict_labels(data)
    path = plots.confusion_matrix(run_dir / "confusion_matrix.png", truth, predicted, task.classes_,
                                  title=f"Confusion matrix ({name}, {len(truth)} clips)")
    report.add_figure("Confusion matrix", path)
    voices = per_group_accuracy(data.speakers, truth, predicted)
    counts: dict[str, int] = {}
    for s in data.speakers:
        counts[s] = counts.get(s, 0) + 1
    report.add_table(f"Accuracy per voice ({name})",
                     [{"voice": v, "clips": counts[v], "accuracy": a} for v, a in voices.items()])
    engines = [s.split("-", 1)[0] for s in data.speakers]
    if len(set(engines)) > 1 and len(set(engines)) < len(engines):
        rows = []
        for engine in sorted(set(engines)):
            pick = [i for i, e in enumerate(engines) if e == engine]
            scores = keyword_metrics([truth[i] for i in pick], [predicted[i] for i in pick])
            rows.append({"group": engine, "clips": len(pick), **scores})
        report.add_table(f"Accuracy per voice family ({name})", rows)
    return report


def _transcribe_report(task: SpeechTask, report: Report, name: str, data: Any) -> Report:
    refs = list(data.texts)
    if getattr(task, "recognizer_", None) is not None:
        hyps = {task.config.pretrained: task.transcribe_waves(data.waves)}
    else:
        hyps = {d: task.transcribe_waves(data.waves, d) for d in ("greedy", "beam")}
    report.add_table(f"Error rates by decoder ({name})",
                     [{"decoder": d, **error_rates(refs, h)} for d, h in hyps.items()])
    shown = next(iter(hyps.values())) if len(hyps) == 1 else hyps[task.config.decoder]
    rows = [{"clip": Path(p).name, "reference": r, "hypothesis": h}
            for p, r, h in list(zip(data.paths, refs, shown))[:12]]
    report.add_table(f"Example transcripts ({name})", rows)
    return report
