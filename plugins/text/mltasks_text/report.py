"""The text task's report: data summary, per-class table, confusion matrix, the TF-IDF baseline
beside the model, confusions by example."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from mltasks import Evaluation, Report, Splits, plots

from mltasks_text.metrics import headline, per_class

if TYPE_CHECKING:
    from mltasks_text.task import TextTask


def build_report(task: TextTask, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report:
    """Sections, tables and PNGs (written under ``run_dir``) for ``report.md``.

    :param evaluation: what :meth:`TextTask.evaluate` scored (its ``details``); without it the
        scored split is predicted again.
    """
    report = Report()
    labels = task.labels_
    counts = splits.info.get("counts", {})
    rows = [{"label": lab, **{name: c.get(lab, 0) for name, c in counts.items()}} for lab in labels]
    report.add_section("Data", f"Source: {splits.info.get('source', '?')}; {len(labels)} classes; "
                               f"split sizes {splits.sizes()}.")
    if rows:
        report.add_table("Texts per class and split", rows)
    report.add_section("Model", task.describe())
    details = evaluation.details if evaluation is not None else {}
    split = (evaluation.split if evaluation is not None else "") or "test"
    if "predicted" in details:
        texts, truth, predicted = details["texts"], details["labels"], details["predicted"]
        confidence = np.asarray(details["probabilities"]).max(axis=1)
    else:
        scored, split = splits.scored()
        if scored is None or not len(scored) or not scored.labels:
            return report
        records = task.predict(scored.texts, top_k=1)
        texts, truth = scored.texts, scored.labels
        predicted = [r["label"] for r in records]
        confidence = np.asarray([r["probability"] for r in records])
    scores = headline(truth, predicted, labels)
    baseline = against_tfidf(task, splits, texts, truth, scores, details.get("parts"))
    if baseline:
        report.add_table(f"Against the TF-IDF baseline ({split})", baseline)
    report.add_table(f"Per-class precision and recall ({split})", per_class(truth, predicted, labels))
    png = plots.confusion_matrix(Path(run_dir) / "confusion_matrix.png", truth, predicted, labels,
                                 title=f"{task.effective_config().model}: accuracy {scores['accuracy']:.3f}, "
                                       f"macro-F1 {scores['macro_f1']:.3f}")
    report.add_figure(f"Confusion matrix ({split})", png)
    wrong = [(t, y, p, float(c)) for t, y, p, c in zip(texts, truth, predicted, confidence) if p != y]
    wrong.sort(key=lambda w: -w[3])
    if wrong:
        report.add_table(f"Most confident mistakes ({split})", [
            {"text": (t[:100] + "…") if len(t) > 100 else t, "true": y, "predicted": p, "probability": round(c, 3)}
            for t, y, p, c in wrong[:8]])
    return report


def against_tfidf(task: TextTask, splits: Splits, texts: list[str], truth: list[str], scores: dict[str, float],
                  parts: dict[str, np.ndarray] | None = None) -> list[dict[str, object]]:
    """Rows comparing the model with TF-IDF on the scored texts: a blend's own parts, else a TF-IDF
    baseline fitted here on ``splits.train`` (seconds); none for a TF-IDF model.

    :param scores: the model's :func:`headline` scores on ``texts``.
    :param parts: a blend's per-part probabilities of ``texts`` (``None``: predicted again).
    """
    import time

    model = task.effective_config().model
    if model == "tfidf":
        return []
    rows: list[dict[str, object]] = [{"model": f"{model} (this run)", "accuracy": round(scores["accuracy"], 4),
                                      "macro_f1": round(scores["macro_f1"], 4)}]
    labels = task.labels_
    if model == "blend":
        parts = parts if parts is not None else task.model_.parts_proba(texts)
        names = {"transformer": "transformer alone (fine-tuned part)", "tfidf": "TF-IDF alone (blended part)"}
    else:
        from dataclasses import replace

        from mltasks_text.tfidf import TfidfClassifier

        began = time.perf_counter()
        baseline = TfidfClassifier(replace(task.effective_config(), model="tfidf"), labels).fit(splits.train)
        parts = {"tfidf": baseline.predict_proba(texts)}
        names = {"tfidf": f"TF-IDF baseline (fitted for this report in {time.perf_counter() - began:.1f} s)"}
    for key, name in names.items():
        part = headline(truth, [labels[i] for i in np.asarray(parts[key]).argmax(axis=1)], labels)
        rows.append({"model": name, "accuracy": round(part["accuracy"], 4), "macro_f1": round(part["macro_f1"], 4)})
    tfidf = rows[-1]["accuracy"]
    for row in rows:
        row["vs_tfidf_points"] = round(100 * (float(row["accuracy"]) - float(tfidf)), 1)  # type: ignore[arg-type]
    return rows
