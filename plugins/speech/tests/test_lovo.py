"""Voice families and the leave-one-family-out folds: no person on both sides of a fold."""

from __future__ import annotations

import numpy as np

from mltasks_speech.lovo import plan_folds, score_fold, summarize
from mltasks_speech.voice_families import coarse_family_of, family_of, is_variant, person_of

VOICES = ["espeak-en-us-nyc-paul", "espeak-en-us-m1", "espeak-en-gb-x-rp-alex", "espeak-en-rob", "flite-kal",
          "flite-kal-hi", "festival-kal", "festival-ked", "flite-awb", "accented-cs-machac", "accented-cs-machac-hi",
          "accented-fi-lj"]


def test_families_and_people() -> None:
    assert [family_of(v) for v in VOICES[:4]] == ["espeak-us-nyc", "espeak-us", "espeak-gb-x-rp", "espeak-en"]
    assert family_of("flite-kal-hi") == "flite" and family_of("accented-cs-machac-hi") == "accented-cs"
    assert person_of("flite-kal-hi") == person_of("festival-kal") == "cmu-kal"
    assert person_of("accented-cs-machac-hi") == "accented-cs-machac"
    assert is_variant("flite-kal-hi") and is_variant("accented-cs-machac-hi") and not is_variant("espeak-en-rob")
    assert {coarse_family_of(v) for v in VOICES} == {"espeak", "recorded", "accented"}


def test_a_held_out_family_takes_its_people_out_of_training() -> None:
    voices = [v for v in VOICES for _ in range(3)]  # three clips a voice
    folds = {f.family: f for f in plan_folds(voices)}
    assert len(folds) == 8
    flite = folds["flite"]
    people = np.array([person_of(v) for v in voices])
    assert not set(people[flite.train | flite.val]) & set(people[flite.test])  # festival-kal is out too
    assert "festival-ked" in {voices[i] for i in np.flatnonzero(flite.train | flite.val)}
    assert {voices[i] for i in np.flatnonzero(flite.test)} == {"flite-kal", "flite-awb"}  # no -hi variant
    for fold in folds.values():
        assert not (fold.train & fold.val).any() and not (fold.train & fold.test).any() and fold.val.any()


def test_separable_features_score_perfectly_and_summaries_add_up() -> None:
    rng = np.random.default_rng(0)
    voices = [v for v in VOICES for _ in range(20)]
    y = np.tile(np.arange(4), len(voices) // 4)
    x = np.eye(4)[y] * 5 + rng.normal(size=(len(y), 4)) * 0.3
    folds = plan_folds(voices)
    extra = (x[:40] + 0.01, np.arange(40))  # "augmented" copies of the first 40 clips
    rows = [score_fold(f, x, y, extra) for f in folds]
    assert all(r["accuracy"] == 1.0 and r["top_word_share"] == 0.25 for r in rows)
    summary = summarize(rows)
    assert summary["mean"] == 1.0 and summary["worst"] == 1.0 and len(summary["abstain"]) == 3
    assert rows[0]["train_clips"] > int(folds[0].train.sum())  # the copies of training clips were added
