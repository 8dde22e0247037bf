"""The recommender's report: model vs popularity on the scored split, a chart, example lists.

Everything comes from what ``evaluate`` scored (the :class:`~mltasks.Evaluation` details):
nothing is recommended twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mltasks import Evaluation, Report, Splits

from mltasks_recommender.chart import bar_chart

if TYPE_CHECKING:
    from mltasks_recommender.task import RecommenderTask

#: Users shown in the example table, and items per user.
EXAMPLE_USERS, EXAMPLE_ITEMS = 3, 5


def build_report(task: RecommenderTask, splits: Splits, evaluation: Evaluation, run_dir: Path) -> Report:
    """A :class:`Report` with the comparison table, ``comparison.png`` and three users' top items.

    :param evaluation: ``task.evaluate(scored split)``: the model's and the baseline's metrics,
        with the evaluated users and the model's top-k lists in ``details``.
    """
    report = Report()
    cfg = task.config
    split = evaluation.split or "test"
    names = [n for n in evaluation if not n.startswith("popularity_")]
    rows = [
        {"metric": n, cfg.model: evaluation[n], "popularity": evaluation[f"popularity_{n}"],
         "lift": (evaluation[n] / evaluation[f"popularity_{n}"]) if evaluation[f"popularity_{n}"] else float("nan")}
        for n in names
    ]
    report.add_table(f"{cfg.model} vs popularity baseline ({split}, k={cfg.k})", rows)
    details = evaluation.details
    png = bar_chart(run_dir / "comparison.png", names,
                    {cfg.model: [evaluation[n] for n in names],
                     "popularity": [evaluation[f"popularity_{n}"] for n in names]},
                    f"{cfg.model} vs popularity ({split} split, {details.get('evaluated_users', '?')} users)")
    report.add_figure("Model vs popularity", png)
    info = splits.info
    report.add_section(
        "Data",
        f"{info.get('interactions')} interactions, {info.get('users')} users, {info.get('items')} items "
        f"from `{info.get('source')}`; {info.get('split')}; {info.get('evaluated_users')} users evaluated.",
    )
    examples = []
    shown = zip(details["users"][:EXAMPLE_USERS], details["ids"], details["scores"], strict=False)
    for user, ids, scores in shown:
        kept = [(i, s) for i, s in zip(ids, scores, strict=True) if i >= 0][:EXAMPLE_ITEMS]
        for rank, (item, score) in enumerate(kept, start=1):
            record = task.item_record(int(item), float(score))
            examples.append({"user": task.users_[int(user)], "rank": rank, "item": record["item"],
                             "title": record.get("title", ""), "score": record["score"]})
    report.add_table(f"Example recommendations ({split} users, top {EXAMPLE_ITEMS})", examples)
    return report
