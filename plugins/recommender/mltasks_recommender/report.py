"""The recommender's report: model vs popularity on the test split, a chart, example lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mltasks import Report, Splits
from mltasks.plots import figure

if TYPE_CHECKING:
    from mltasks_recommender.task import RecommenderTask


def build_report(task: RecommenderTask, splits: Splits, scores: dict[str, float], run_dir: Path) -> Report:
    """A :class:`Report` with the comparison table, ``comparison.png`` and three users' top items.

    :param scores: ``task.evaluate(test)``: the model's and the baseline's metrics.
    """
    import numpy as np

    report = Report()
    cfg = task.config
    test = splits.test if splits.test is not None else splits.val
    names = [n for n in scores if not n.startswith("popularity_")]
    rows = [
        {"metric": n, cfg.model: scores[n], "popularity": scores[f"popularity_{n}"],
         "lift": (scores[n] / scores[f"popularity_{n}"]) if scores[f"popularity_{n}"] else float("nan")}
        for n in names
    ]
    report.add_table(f"{cfg.model} vs popularity baseline (test, k={cfg.k})", rows)
    path = run_dir / "comparison.png"
    with figure(path, size=(7.0, 4.0)) as ax:
        x = np.arange(len(names))
        ax.bar(x - 0.2, [scores[n] for n in names], 0.4, label=cfg.model, color="#4c72b0")
        ax.bar(x + 0.2, [scores[f"popularity_{n}"] for n in names], 0.4, label="popularity", color="#c0c0c0")
        ax.set_xticks(x, names, rotation=20, ha="right")
        ax.set_ylabel("score")
        ax.set_title(f"{cfg.model} vs popularity (test split, {len(test.evaluated_users())} users)")
        ax.legend()
    report.add_figure("Model vs popularity", path)
    info = splits.info
    report.add_section(
        "Data",
        f"{info.get('interactions')} interactions, {info.get('users')} users, {info.get('items')} items "
        f"from `{info.get('source')}`; {info.get('split')}; {info.get('evaluated_users')} users evaluated.",
    )
    users = [str(test.users[u]) for u in test.evaluated_users()[:3]]
    examples = []
    for record in task.predict(users, k=5):
        for rank, item in enumerate(record["items"], start=1):
            examples.append({"user": record["user"], "rank": rank, "item": item["item"],
                             "title": item.get("title", ""), "score": item["score"]})
    report.add_table("Example recommendations (top 5)", examples)
    return report
