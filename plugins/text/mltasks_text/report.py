"""The text task's report: data summary, per-class table, confusion matrix, confusions by example."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mltasks import Report, Splits, plots

from mltasks_text.metrics import headline, per_class

if TYPE_CHECKING:
    from mltasks_text.task import TextTask


def build_report(task: TextTask, splits: Splits, run_dir: Path) -> Report:
    """Sections, tables and PNGs (written under ``run_dir``) for ``report.md``."""
    report = Report()
    labels = task.labels_
    counts = splits.info.get("counts", {})
    rows = [{"label": lab, **{name: c.get(lab, 0) for name, c in counts.items()}} for lab in labels]
    report.add_section("Data", f"Source: {splits.info.get('source', '?')}; {len(labels)} classes; "
                               f"split sizes {splits.sizes()}.")
    if rows:
        report.add_table("Texts per class and split", rows)
    report.add_section("Model", task.describe())
    test = splits.test if splits.test is not None and splits.test_labelled and len(splits.test) else splits.val
    if test is None or not len(test) or not test.labels:
        return report
    records = task.predict(test.texts, top_k=1)
    predicted = [r["label"] for r in records]
    scores = headline(test.labels, predicted, labels)
    report.add_table("Per-class precision and recall (test)", per_class(test.labels, predicted, labels))
    png = plots.confusion_matrix(Path(run_dir) / "confusion_matrix.png", test.labels, predicted, labels,
                                 title=f"{task.config.model}: accuracy {scores['accuracy']:.3f}, "
                                       f"macro-F1 {scores['macro_f1']:.3f}")
    report.add_figure("Confusion matrix (test)", png)
    wrong = [(t, y, r) for t, y, r in zip(test.texts, test.labels, records) if r["label"] != y]
    wrong.sort(key=lambda w: -w[2]["probability"])
    if wrong:
        report.add_table("Most confident mistakes (test)", [
            {"text": (t[:100] + "…") if len(t) > 100 else t, "true": y, "predicted": r["label"],
             "probability": round(r["probability"], 3)} for t, y, r in wrong[:8]])
    return report
