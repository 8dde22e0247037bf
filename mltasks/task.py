"""The Task contract: what every task, built-in or third-party, implements.

A task is estimator-like (scikit-learn, stable-baselines3)::

    task = SpeechTask(SpeechConfig(epochs=5))      # stores the config, nothing else
    splits = task.load_data("./wav")              # Splits(train, val, test)
    task.train(splits, progress)                  # learned state in attributes ending "_"
    task.evaluate(splits.test)                    # {"accuracy": 0.97, ...}
    task.predict(["a.wav"])                       # [{"label": "seven", "probability": 0.99}]
    task.save(directory); SpeechTask.load(directory)

The runner (:func:`mltasks.run`) drives these calls and writes the run directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mltasks.errors import ConfigError, NotTrainedError
from mltasks.predict_options import PredictOption, checked_predict

if TYPE_CHECKING:
    from mltasks.progress import Progress
    from mltasks.report import Report


@dataclass(frozen=True)
class TaskConfig:
    """Options every task has. Subclass it as a frozen dataclass whose fields all have a
    default and a ``metadata={"help": ...}`` text; ``mltasks info`` shows them.

    ``quick_presets`` (a class attribute, not a field) holds what ``--quick`` (``smoke``)
    changes: ``{"epochs": 1, "folds": 2}``. :func:`mltasks.config.resolve` applies them when
    ``smoke`` is on, to the fields no layer (file, ``--set``) set, so an explicit value wins;
    :func:`mltasks.config.quick_config` applies them to a config already built.
    """

    #: field name -> value under ``--quick``; fields set explicitly keep their value.
    quick_presets: ClassVar[Mapping[str, Any]] = {}

    seed: int = field(default=0, metadata={"help": "random seed for splits, initialisation and shuffling"})
    smoke: bool = field(
        default=False,
        metadata={"help": "tiny run: a small slice of the data and few steps (what --quick and tests use)"},
    )
    device: str = field(
        default="auto", metadata={"help": "where torch tasks compute: auto, cpu, cuda, cuda:N or mps"}
    )
    num_threads: int = field(
        default=0, metadata={"help": "CPU threads for torch and BLAS; 0 keeps the libraries' default"}
    )
    split_seed: int = field(
        default=-1,
        metadata={"help": "seed for data splits and cross-validation folds; -1 uses seed (the tuner fixes it "
                          "so every trial is scored on the same data)"},
    )

    def __post_init__(self) -> None:
        check_common_fields(self)

    @property
    def data_seed(self) -> int:
        """The seed for splits and folds: ``split_seed`` when set (>= 0), else ``seed``."""
        return self.split_seed if self.split_seed >= 0 else self.seed


#: Seeds are 32-bit unsigned integers: what NumPy, torch and the libraries they feed accept.
SEED_LIMIT = 2**32
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_common_fields(config: TaskConfig) -> None:
    """Refuse values of the options every task has that no task can use: a seed outside 0..2**32-1
    (``split_seed`` also -1), a negative ``num_threads``, a ``device`` that is not auto, cpu, cuda,
    cuda:N or mps. Called by :class:`TaskConfig` and, for subclasses whose own ``__post_init__``
    does not call it, by :func:`mltasks.config.resolve`.

    :raises ConfigError: naming the key and the value.
    """
    limit = f"0 to {SEED_LIMIT - 1}"
    checks = [
        ("seed", lambda v: 0 <= v < SEED_LIMIT, f"must be a whole number from {limit}"),
        ("split_seed", lambda v: -1 <= v < SEED_LIMIT, f"must be -1 (use seed) or a whole number from {limit}"),
        ("num_threads", lambda v: v >= 0, "must be 0 (the libraries' default) or more"),
    ]
    for key, ok, rule in checks:
        value = getattr(config, key, 0)
        if isinstance(value, int) and not isinstance(value, bool) and not ok(value):
            raise ConfigError(f"config key {key!r}: {value} {rule}")
    device = getattr(config, "device", "auto")
    if isinstance(device, str) and not _DEVICE.fullmatch(device.strip()):
        raise ConfigError(f"config key 'device': {device!r} is not a device; use auto, cpu, cuda, cuda:N or mps")


@dataclass(frozen=True)
class RunContext:
    """What the runner tells :meth:`Task.train` about the run it trains in.

    :param run_dir: the (partial) run directory being built; ``None`` outside a run.
    :param checkpoint_dir: where the task may keep checkpoints so that ``run --resume`` can
        continue an interrupted run; ``None`` when nothing should be kept.
    :param resume: whether this run continues an interrupted one (restore the checkpoint).
    """

    run_dir: Path | None = None
    checkpoint_dir: Path | None = None
    resume: bool = False


class Evaluation(dict):  # type: ignore[type-arg]
    """What :meth:`Task.evaluate` scored: the metrics mapping itself, plus ``details``.

    ``Evaluation({"accuracy": 0.9}, details={"probabilities": p, "labels": y})`` is a
    ``dict`` of metric name -> float (so a plain dict still does); ``details`` carries what
    the report needs (predictions, targets, per-example records). The runner sets ``split``
    ("test", "cv" or "val") and hands the scored evaluation to :meth:`Task.report`.
    """

    def __init__(self, metrics: Any = (), *, details: dict[str, Any] | None = None, split: str = "") -> None:
        super().__init__(metrics)
        self.details: dict[str, Any] = dict(details or {})
        self.split = split

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics as a plain dict."""
        return dict(self)


@dataclass
class Splits:
    """The data a task works on, as returned by :meth:`Task.load_data`.

    :param train: the training set, in whatever form the task uses (it should support ``len``).
    :param val: the validation set, or ``None`` when the task makes its own (cross-validation).
    :param test: the test set; may be unlabelled (a Kaggle ``test.csv``), then set
        ``test_labelled=False`` and ``evaluate`` reports cross-validation metrics.
    :param test_labelled: whether ``test`` carries targets.
    :param info: free-form facts about the data for the report (source, class names, counts).
    """

    train: Any
    val: Any = None
    test: Any = None
    test_labelled: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    def scored(self) -> tuple[Any, str]:
        """The split the runner evaluates and its tag in ``metrics.json``: ``test``; ``cv``
        when the test set is unlabelled (``evaluate`` then reports cross-validation); ``val``
        when there is no test set."""
        if self.test is None:
            return self.val, "val"
        return self.test, "test" if self.test_labelled else "cv"

    def sizes(self) -> dict[str, int]:
        """Number of examples in each split that has a length."""
        out = {}
        for name in ("train", "val", "test"):
            part = getattr(self, name)
            if part is not None and hasattr(part, "__len__"):
                out[name] = len(part)
        return out


class Task:
    """Base class of every task. Subclasses set ``Config`` and implement the methods below.

    ``__init__`` only stores the config (scikit-learn's rule); all learned state goes in
    attributes whose names end with ``_``, set by :meth:`train` or :meth:`load`.
    """

    Config: ClassVar[type[TaskConfig]] = TaskConfig
    #: The name the task is registered under; the registry fills it in when the task runs.
    name: ClassVar[str] = ""
    #: The metric ``runs``, ``compare`` and ``tune`` sort on; "" means the first one ``evaluate`` returns.
    #: The tools read it from the task object, so a task whose metric depends on its config
    #: (a mode) may define it, and ``greater_is_better``, as a property.
    primary_metric: str = ""
    #: Whether a larger ``primary_metric`` is better (accuracy) or worse (loss, WER, RMSE).
    greater_is_better: bool = True
    #: What :meth:`predict` takes, so ``serve`` can build an endpoint and a page:
    #: "text" (strings), "file" (paths; see ``input_suffixes``), "row" (table rows: dicts or a
    #: CSV path), "id" (identifiers such as user ids) or "none" (no inputs: RL plays episodes).
    input_kind: ClassVar[str] = "text"
    #: The file suffixes :meth:`predict` accepts when ``input_kind`` is "file" (".wav", ".png").
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    #: The keyword options :meth:`predict` accepts: name -> :class:`~mltasks.PredictOption`
    #: (type and help); a plain help string declares an untyped option (text read as bool, int,
    #: float or else text). Every ``predict`` call has its options checked and converted to these
    #: types first (:mod:`mltasks.predict_options`): an unknown name or a bad value is a ConfigError.
    predict_options: ClassVar[Mapping[str, PredictOption | str]] = {}
    #: Whether :meth:`predict` may run in several threads at once (``serve`` then skips its lock).
    thread_safe: ClassVar[bool] = False
    #: Whether ``serve`` may gather the inputs of concurrent requests into one :meth:`predict` call
    #: (records come back one per input, in order). None: yes, unless ``input_kind`` is "none" (RL
    #: plays episodes) or a predict option names an output path (it belongs to one request).
    batchable: ClassVar[bool | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "predict" in vars(cls):  # one check of the options for every caller (CLI, serve, MLflow, Python)
            cls.predict = checked_predict(vars(cls)["predict"])  # type: ignore[method-assign]

    def __init__(self, config: TaskConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def __repr__(self) -> str:
        from dataclasses import fields

        changed = [
            f"{f.name}={getattr(self.config, f.name)!r}"
            for f in fields(self.config)
            if f.name not in ("smoke", "num_threads") and getattr(self.config, f.name) != f.default
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def sample_data(cls, directory: Path) -> Path | str:
        """Write a tiny dataset in an accepted format under ``directory``.

        :param directory: an existing, empty folder.
        :returns: the source to pass to :meth:`load_data` (a path, or an id such as an
            environment name).
        """
        raise NotImplementedError

    def load_data(self, source: str | Path | None) -> Splits:
        """Read and split the data.

        :param source: a path or id given by the user (``--data``); ``None`` means the
            task's embedded default dataset, which must work offline.
        :raises DataError: the source is missing, empty or malformed (name the file).
        """
        raise NotImplementedError

    def train(self, splits: Splits, progress: Progress, context: RunContext | None = None) -> Task:
        """Fit the model(s) on ``splits.train`` (``splits.val`` for early stopping).

        :param progress: where to report progress and per-epoch validation metrics (the
            runner always gives one; :func:`mltasks.progress.null_progress` outside a run).
        :param context: the run's checkpoint folder and resume flag (the runner always passes
            it; part of the contract: declare it even when the task keeps no checkpoint).
        :returns: ``self``.
        """
        raise NotImplementedError

    def evaluate(self, dataset: Any) -> dict[str, float]:
        """Score the trained model on a labelled dataset (one of the splits).

        :returns: metric name -> finite float; an :class:`Evaluation` to hand what was
            scored (predictions, targets) on to :meth:`report`.
        """
        raise NotImplementedError

    def predict(self, inputs: Any = None, **options: Any) -> list[dict[str, Any]]:
        """Predict for raw inputs (texts, file paths, user ids...) as JSON-ready records.

        :param options: task-specific options (``mltasks predict --set KEY=VALUE``), declared in
            :attr:`predict_options`; they arrive checked and converted to the declared types.
        :raises NotTrainedError: before :meth:`train` or :meth:`load`.
        """
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        """Write the learned state into ``directory`` (it exists and is empty)."""
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path) -> Task:
        """Build a new, trained task from a folder written by :meth:`save`."""
        raise NotImplementedError

    def report(self, splits: Splits, run_dir: Path, evaluation: Evaluation | None = None) -> Report | None:
        """Optional: sections, tables and figures (PNG files written under ``run_dir``)
        for ``report.md``; the runner adds the config and the metrics itself.

        :param evaluation: what :meth:`evaluate` returned for the scored split (its
            ``details`` are empty when it returned a plain dict); the runner always passes it.
        """
        return None

    def example_inputs(self, dataset: Any) -> list[Any]:
        """Optional: a few inputs taken from ``dataset`` in the form :meth:`predict` takes.

        The conformance kit predicts on them; the default, an empty list, means
        ``predict()`` is called with no inputs (RL plays an episode).
        """
        return []

    # Helpers for subclasses -------------------------------------------------------

    def save_config(self, directory: Path) -> None:
        """Write ``task_config.json`` into ``directory``; call it from :meth:`save`."""
        from mltasks.config import to_dict
        from mltasks.rundir import write_json

        write_json(Path(directory) / "task_config.json", to_dict(self.config))

    @classmethod
    def load_config(cls, directory: Path) -> TaskConfig:
        """Read the config written by :meth:`save_config`; call it from :meth:`load`."""
        from mltasks.config import resolve
        from mltasks.runfiles import read_run_json

        path = Path(directory) / "task_config.json"
        return resolve(cls.Config, read_run_json(path, expect=dict), sources=[str(path)])

    def check_is_trained(self) -> None:
        """Raise :class:`NotTrainedError` unless some learned attribute (``name_``) is set."""
        learned = [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]
        if not learned:
            raise NotTrainedError(f"{type(self).__name__} is not trained yet: call train() or load() first")
