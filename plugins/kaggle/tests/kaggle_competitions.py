"""Small synthetic competitions with every column kind (imported by the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def synthetic(n: int = 160, problem: str = "regression", seed: int = 0) -> pd.DataFrame:
    """A table with numeric, categorical, date, text and id columns and a learnable target."""
    rng = np.random.RandomState(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.randint(0, 365, size=n), unit="D")
    words = np.array(["fast car", "slow boat", "big house", "small cat", "red bike"])
    text = [f"{words[i % 5]} with {rng.randint(100)} extra words here" for i in range(n)]
    signal = 2 * x1 + 0.5 * x2 + (colour == "red") * 3
    frame = pd.DataFrame({"id": np.arange(1000, 1000 + n), "x1": x1, "x2": x2, "colour": colour,
                          "day": day.strftime("%Y-%m-%d"), "note": text})
    frame.loc[rng.rand(n) < 0.1, "x2"] = np.nan
    if problem == "regression":
        frame["y"] = signal + rng.normal(scale=0.5, size=n)
    elif problem == "multiclass":
        frame["y"] = np.array(["low", "mid", "high"])[np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))]
    else:
        frame["y"] = (signal > np.median(signal)).astype(int)
    return frame


def write_competition(folder: Path, frame: pd.DataFrame, target: str = "y", n_test: int = 40,
                      sample_value: object = 0.0, shuffle_sample: bool = False) -> Path:
    """train.csv, test.csv (no target) and sample_submission.csv from one labelled frame."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = frame.iloc[:-n_test], frame.iloc[-n_test:]
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=[target]).to_csv(folder / "test.csv", index=False)
    sample = test[["id"]].assign(**{target: sample_value})
    if shuffle_sample:
        sample = sample.sample(frac=1.0, random_state=1)
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder
