"""Hyperparameter search for any task (``mltasks tune``), on Optuna (``pip install 'mltasks[tune]'``)."""

from __future__ import annotations

from mltasks.tune.space import Param, Space, load_space, parse_space
from mltasks.tune.study import StudyInterrupted, tune
from mltasks.tune.trial import TuneSettings, objective_value, pruning_subscriber

__all__ = ["Param", "Space", "StudyInterrupted", "TuneSettings", "load_space", "objective_value", "parse_space",
           "pruning_subscriber", "tune"]
