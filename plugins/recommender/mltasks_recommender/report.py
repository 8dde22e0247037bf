"""The recommender's report: warnings first (a filter that dropped more than 10 % of the rows,
popularity ahead of the model on validation), model vs popularity on the scored split, a chart,
the validation verdict, the data (ratings or counts, what each filter dropped), the confidence
trained with and the candidates compared, example lists.

The scored split's numbers come from what ``evaluate`` scored (the :class:`~mltasks.Evaluation`
details): nothing is recommended twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltasks import Evaluation, Report, Splits

from mltasks_recommender.chart import bar_chart
from mltasks_recommender.metrics import popularity_verdict
from mltasks_recommender.values import DROP_WARNING

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
    info = splits.info
    validation = _validation(task, splits)
    warnings = [f"{step['what']} dropped {step['dropped']:,} of {step['total']:,} rows ({step['fraction']:.1%})"
                + (f"; {step['hint']}" if step.get("hint") else "")
                for step in info.get("filters", []) if step["fraction"] > DROP_WARNING]
    if validation and validation[f"popularity_precision_at_{cfg.k}"] > validation[f"precision_at_{cfg.k}"]:
        warnings.append(popularity_verdict(cfg.model, validation, cfg.k))
    if warnings:
        report.add_section("Warnings", "\n".join(f"- **{w}**" for w in warnings))
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
    if validation:
        report.add_section("Validation", popularity_verdict(cfg.model, validation, cfg.k) + ".")
    report.add_section("Data", _data_text(info))
    _confidence(report, getattr(task, "confidence_", {}) or {}, cfg.k)
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


def _validation(task: RecommenderTask, splits: Splits) -> dict[str, float]:
    """The model's and popularity's validation metrics (from training, or scored now for a
    loaded task); empty without a validation split."""
    if getattr(task, "validation_", None):
        return dict(task.validation_)
    val = splits.val
    if val is None or not len(val):
        return {}
    return dict(task.evaluate(val))


def _data_text(info: dict[str, Any]) -> str:
    """The data section: size, source, split, what the values are and what the filters dropped."""
    text = (f"{info.get('interactions')} interactions, {info.get('users')} users, {info.get('items')} items "
            f"from `{info.get('source')}`; {info.get('split')}; {info.get('evaluated_users')} users evaluated.")
    if info.get("values") == "none":
        text += f"\n\n{info.get('values_rule', '').capitalize()}."
    elif info.get("values"):
        text += f"\n\nValues: **{info['values']}** ({info.get('values_rule', '')})."
    if info.get("values") == "count":
        text += " `min_rating` does not apply to counts."
    for step in info.get("filters", []):
        text += (f"\n\n- {step['what']}: {step['dropped']:,} of {step['total']:,} rows dropped "
                 f"({step['fraction']:.1%})")
    return text


def _confidence(report: Report, confidence: dict[str, Any], k: int) -> None:
    """How values became confidence, and the candidates compared on validation."""
    if not confidence:
        return
    scale = "each weighting scaled to mean 1, " if confidence.get("normalized") else ""
    report.add_section("Confidence", f"Weighting **{confidence['weighting']}** at alpha **{confidence['alpha']:g}** "
                                     f"({scale}{confidence.get('how', '')}).")
    candidates = confidence.get("candidates") or []
    if candidates:
        rows = [{"weighting": c["weighting"], "alpha": c["alpha"], f"val ndcg@{k}": c["val_ndcg"],
                 f"val precision@{k}": c["val_precision"],
                 "chosen": "yes" if (c["weighting"], c["alpha"]) == (confidence["weighting"], confidence["alpha"])
                 else ""} for c in candidates]
        report.add_table("Confidence candidates (validation)", rows)
