"""The bad-input corpus of the seven built-in plugins (the plugins tox env): per task, unknown keys,
wrong types, out-of-range values, bad config files, bad data in each accepted format, broken or
swapped run directories, unwritable outputs and a full disk, and nothing left in ``$TMPDIR``.

Rows come from small generators per task (``class/task-case`` ids); the machinery is in
``bad_inputs_support.py``. Rows needing a trained run share one quick run per task, trained on
first use. Rows that fail today for a cause in code other engineers own are strict xfails that
say where to fix it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import wave
from pathlib import Path

import pytest

support = sys.modules["bad_inputs_support"]  # loaded by conftest.py
Case, Ctx, full_disk = support.Case, support.Ctx, support.full_disk
tables = support.sibling("bad_inputs_tables")

PACKAGES = {"text": "mltasks_text", "image": "mltasks_image", "speech": "mltasks_speech", "rl": "mltasks_rl",
            "recommender": "mltasks_recommender", "kaggle": "mltasks_kaggle", "llm": "mltasks_llm"}
TASKS = tuple(PACKAGES)
INSTALLED = tuple(t for t, p in PACKAGES.items() if importlib.util.find_spec(p) is not None)
LLM_TESTS = Path(__file__).resolve().parents[1] / "plugins" / "llm" / "tests"


def needs(task: str, *more: str) -> tuple[str, ...]:
    """What a row of ``task`` needs: the plugin's package, and ``more``."""
    return (f"module:{PACKAGES[task]}", *more)


def _put(ctx: Ctx, files: dict[str, str | bytes | None]) -> None:
    """Write ``files`` (relative path -> content; None makes a folder) into the working folder."""
    for rel, content in files.items():
        if content is None:
            (ctx.work / rel).mkdir(parents=True, exist_ok=True)
        else:
            ctx.write(ctx.work / rel, content)


def run_case(klass: str, task: str, name: str, sets: tuple[str, ...], fragment: str, *, data: str = "",
             files: dict[str, str | bytes | None] | None = None, extra: tuple[str, ...] = (), xfail: str = "",
             more: tuple[str, ...] = ()) -> Case:
    """``mltasks run TASK --quick [--data tables.DATA] [--set ...]`` after writing ``files``."""

    def args(ctx: Ctx) -> list[str]:
        _put(ctx, files or {})
        line = ["run", task, "--quick", *extra]
        if data:
            line += ["--data", data]
        return line + (["--set", *sets] if sets else [])

    return Case(klass, f"{task}-{name}", args, fragment, xfail=xfail, needs=needs(task, *more))


# --- unknown-task and unknown-key ---------------------------------------------------------------------

UNKNOWN_TASK = [
    Case("unknown-task", f"typo-{task}", ["run", task[:-1] + "x", "--quick"], task, needs=needs(task))
    for task in TASKS
]


def _other_key(task: str) -> str:
    """A key another task has and ``task`` does not."""
    return {"text": "timesteps", "image": "factors", "speech": "folds", "rl": "image_size", "recommender": "epochs",
            "kaggle": "lora_r", "llm": "competition"}[task]


def _typo_key(task: str) -> tuple[str, str]:
    """A misspelt option of ``task`` and the option it should suggest."""
    key = {"text": "classifier", "image": "backbone", "speech": "sample_rate", "rl": "timesteps",
           "recommender": "factors", "kaggle": "folds", "llm": "sparsity"}[task]
    return key[:2] + key[3:], key


UNKNOWN_KEY = [row for task in TASKS for row in (
    run_case("unknown-key", task, "nosuch", ("nosuch=1",), "'nosuch'"),
    run_case("unknown-key", task, "typo", (f"{_typo_key(task)[0]}=1",), f"did you mean '{_typo_key(task)[1]}'"),
    run_case("unknown-key", task, "other-task-key", (f"{_other_key(task)}=1",), f"'{_other_key(task)}'"),
)]

# --- wrong-type: each option of each task given a value of the wrong type ----------------------------

_BAD_VALUES = {"int": ("abc", "1.5"), "float": ("abc",), "bool": ("maybe",), "choice": ("bogus",),
               "int | None": ("abc",), "float | None": ("abc",), "bool | None": ("maybe",),
               "tuple[int, ...]": ("a,b",), "tuple[float, float]": ("x,1",)}


def _wrong_types(task: str) -> list[Case]:
    if task not in INSTALLED:
        return []
    from mltasks.config import options
    from mltasks.lookup import get_config_class

    rows = []
    for opt in options(get_config_class(task)):
        for value in _BAD_VALUES.get(opt.type, ()):
            label = value.replace(",", "comma").replace(".", "dot")
            rows.append(run_case("wrong-type", task, f"{opt.name}-{label}", (f"{opt.name}={value}",), f"'{opt.name}'"))
    return rows


WRONG_TYPE = [row for task in TASKS for row in _wrong_types(task)]

# --- out-of-range: values of the right type that make no sense ----------------------------------------



def _range_rows(task: str) -> list[Case]:
    rows = [run_case("out-of-range", task, label, (value,), fragment)
            for label, value, fragment in tables.COMMON_RANGES]
    for value in tables.RANGES[task]:
        key = value.split("=")[0]
        label = value.replace("=", "-").replace(",", "_").replace(".", "dot")
        rows.append(run_case("out-of-range", task, label, (value,), key))
    return rows


OUT_OF_RANGE = [row for task in TASKS for row in _range_rows(task)]

# --- config-file: bad TOML files per task ---------------------------------------------------------------


def toml_case(task: str, name: str, content: str | bytes, fragment: str) -> Case:
    """``run TASK --config conf.toml`` with ``content`` in conf.toml."""

    def args(ctx: Ctx) -> list[str]:
        ctx.write(ctx.work / "conf.toml", content)
        return ["run", task, "--quick", "--config", "conf.toml"]

    return Case("config-file", f"{task}-{name}", args, fragment, needs=needs(task))


CONFIG_FILE = [row for task in TASKS for row in (
    toml_case(task, "unknown-key", "[config]\nnosuch = 1\n", "'nosuch'"),
    toml_case(task, "wrong-type", "seed = \"zero\"\n", "'seed'"),
    toml_case(task, "out-of-range", "num_threads = -2\n", "'num_threads'"),
    toml_case(task, "syntax-error", "seed = = 1\n", "not valid TOML"),
    toml_case(task, "not-utf8", b"seed = 1 # \xff\xfe\n", "not UTF-8"),
)]

# --- bad-data: data each task cannot use, per accepted format -------------------------------------------

DATA_XFAIL: dict[tuple[str, str], str] = {}  # (task, case) -> where to fix it: none today

BAD_DATA = [
    run_case("bad-data", task, name, sets, fragment, data=data, files=files, xfail=DATA_XFAIL.get((task, name), ""))
    for task, table in tables.DATA.items()
    for name, (files, data, fragment, sets) in table.items()
]


# --- leftovers: a failed run under nested --out folders leaves none of them ---------------------------

LEFTOVERS = [
    run_case("leftovers", task, "nested-out-bad-option", ("seed=-3",), "'seed'", extra=("--out", "a/b/run"))
    for task in TASKS
] + [
    run_case("leftovers", task, "nested-out-missing-data", (), "nowhere", data="nowhere", extra=("--out", "a/b/run"))
    for task in TASKS if task != "rl"
]

# --- shared trained runs, and the inputs their predict takes -------------------------------------------


def _png(path: Path) -> str:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), (120, 30, 200)).save(path)
    return str(path)


def _wav(path: Path, seconds: float = 1.0) -> str:
    """A quiet 440 Hz tone, 16 kHz mono 16-bit (written with the standard library)."""
    import math

    frames = b"".join(int(3000 * math.sin(2 * math.pi * 440 * i / 16000)).to_bytes(2, "little", signed=True)
                      for i in range(int(16000 * seconds)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(frames)
    return str(path)


def predict_inputs(task: str, ctx: Ctx) -> list[str]:
    """Valid inputs for ``mltasks predict`` on the shared run of ``task`` (files written in the work folder)."""
    if task in ("text", "llm"):
        return ["a short sentence about football"]
    if task == "image":
        return [_png(ctx.work / "in" / "x.png")]
    if task == "speech":
        return [_wav(ctx.work / "in" / "x.wav")]
    if task == "kaggle":
        return [str(ctx.samples["kaggle"] / "test.csv")]
    if task == "recommender":
        return ["u000"]
    return []  # rl plays episodes


PREDICT_SETS = {"rl": ("episodes=1",)}


class SharedRuns:
    """One quick run per task, trained on first use (module-scoped), and the sample data it used."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[str, Path] = {}
        self.samples: dict[str, Path] = {}

    def sample(self, task: str) -> Path:
        if task not in self.samples:
            folder = self.root / f"sample-{task}"
            folder.mkdir()
            if task in ("text", "llm"):
                from mltasks_text.data import write_sample_data

                self.samples[task] = Path(write_sample_data(folder))
            else:
                from mltasks.lookup import get_task

                self.samples[task] = Path(str(get_task(task).sample_data(folder)))
        return self.samples[task]

    def __getitem__(self, task: str) -> Path:
        if task not in self.runs:
            import mltasks

            options: dict[str, object] = {"num_threads": 1, **FAST.get(task, {})}
            if task == "llm":
                sys.path.insert(0, str(LLM_TESTS))
                try:
                    from tiny_models import tiny_bert
                finally:
                    sys.path.remove(str(LLM_TESTS))
                options["pretrained"] = str(tiny_bert(self.root / "tiny-bert"))
            data = None if task == "rl" else str(self.sample(task))
            result = mltasks.run(task, data=data, quick=True, out=self.root / f"run-{task}", overrides=options)
            self.runs[task] = result.run_dir
        return self.runs[task]


FAST = {"text": {"model": "tfidf"}, "image": {"pixel_baseline": False}, "rl": {"timesteps": 256, "eval_episodes": 2},
        "kaggle": {"models": "linear", "importance_rows": 0, "ensemble": 0, "folds": 2},
        "llm": {"distill": False, "latency_repeats": 1}}


def _run_case(klass: str, task: str, name: str, build, fragment: str, *, exit: int = 2, xfail: str = "",
              patch=None) -> Case:
    """A row on the shared run of ``task``: ``build(ctx, run_path)`` returns the arguments."""
    return Case(klass, f"{task}-{name}", lambda ctx: build(ctx, ctx.run(task)), fragment, exit=exit, xfail=xfail,
                needs=needs(task, f"run:{task}"), patch=patch)


def _copy_case(klass: str, task: str, name: str, change, command: str, fragment: str, xfail: str = "") -> Case:
    """``mltasks COMMAND`` on a copy of the shared run of ``task`` changed by ``change(ctx, copy)``."""

    def build(ctx: Ctx, run: Path) -> list[str]:
        copy = ctx.copy_run(task)
        change(ctx, copy)
        if command == "predict":
            return ["predict", "run", *predict_inputs(task, ctx), *(("--set", *PREDICT_SETS[task])
                                                                    if task in PREDICT_SETS else ())]
        return [command, "run"]

    return _run_case(klass, task, name, build, fragment, xfail=xfail)



def _evaluate_data(task: str, name: str, files: dict[str, str | bytes | None], data: str, fragment: str) -> Case:
    def build(ctx: Ctx, run: Path) -> list[str]:
        _put(ctx, files)
        return ["evaluate", str(run), "--data", data]

    return _run_case("bad-data", task, f"evaluate-{name}", build, fragment)


BAD_DATA += [_evaluate_data(task, name, *tables.DATA[task][name][:3])
             for task, names in tables.EVAL_DATA.items() for name in names]
BAD_DATA += [_evaluate_data(task, *spec) for task, spec in tables.EVAL_OTHER.items()]


def _swap(task: str) -> str:
    return TASKS[(TASKS.index(task) + 1) % len(TASKS)]


def _config(ctx: Ctx, run: Path, value: object) -> None:
    ctx.write(run / "config.json", value if isinstance(value, (str, bytes)) else json.dumps(value))


SWAP_XFAIL: dict[str, str] = {}  # task swapped in -> where to fix it: none today

RUN_DIR = [row for task in TASKS for row in (
    _copy_case("run-dir", task, "config-list", lambda c, r: _config(c, r, [1]), "predict", "config.json"),
    _copy_case("run-dir", task, "config-no-task", lambda c, r: _config(c, r, {"config": {}}), "evaluate", "'task'"),
    _copy_case("run-dir", task, "config-garbage", lambda c, r: _config(c, r, tables.GARBAGE), "evaluate",
               "config.json"),
    _copy_case("run-dir", task, "config-task-swapped",
               lambda c, r, t=task: _config(c, r, {"task": _swap(t), "config": {}}), "predict",
               f"does not fit task '{_swap(task)}'", xfail=SWAP_XFAIL.get(_swap(task), "")),
    _copy_case("run-dir", task, "model-missing", lambda c, r: c.remove(r / "model"), "predict", "model"),
    _copy_case("run-dir", task, "task-config-missing", lambda c, r: c.remove(r / "model" / "task_config.json"),
               "evaluate", "task_config.json"),
    _copy_case("run-dir", task, "task-config-list", lambda c, r: c.write(r / "model" / "task_config.json", "[1]"),
               "predict", "task_config.json"),
    _copy_case("run-dir", task, "task-config-unknown-key",
               lambda c, r: c.write(r / "model" / "task_config.json", json.dumps({"nosuch": 1})), "predict", "nosuch"),
)]

# --- predict: options and inputs each task must refuse ------------------------------------------------

PREDICT_XFAIL: dict[tuple[str, str], str] = {}  # (task, case) -> where to fix it: none today


def _predict_args(task: str, inputs, sets: tuple[str, ...]):
    def build(ctx: Ctx, run: Path) -> list[str]:
        if inputs is None:
            given = predict_inputs(task, ctx)
        elif isinstance(inputs, str):  # a file name: written with garbage (or other columns)
            content = "a,b\n1,2\n" if inputs == "other.csv" else tables.GARBAGE
            given = [str(ctx.write(ctx.work / inputs, content))]
        else:
            given = list(inputs)
        return ["predict", str(run), *given, *(("--set", *sets) if sets else ())]

    return build


PREDICT = [
    _run_case("predict-input", task, name, _predict_args(task, inputs, sets), fragment,
              xfail=PREDICT_XFAIL.get((task, name), ""))
    for task, rows in tables.PREDICT_BAD.items()
    for name, inputs, sets, fragment in rows
]

# --- unwritable-output and full-disk --------------------------------------------------------------------


def _predict_out(task: str, out: str):
    def build(ctx: Ctx, run: Path) -> list[str]:
        if out.startswith("afile/"):
            ctx.write(ctx.work / "afile", "x")
        sets = ("--set", *PREDICT_SETS[task]) if task in PREDICT_SETS else ()
        return ["predict", str(run), *predict_inputs(task, ctx), *sets, "--out", out]

    return build


def _gif(out: str):
    def build(ctx: Ctx, run: Path) -> list[str]:
        if out.startswith("afile/"):
            ctx.write(ctx.work / "afile", "x")
        return ["predict", str(run), "--set", "episodes=1", f"gif_path={out}", "max_frames=3"]

    return build


UNWRITABLE = [row for task in TASKS for row in (
    _run_case("unwritable-output", task, "predict-out-under-a-file", _predict_out(task, "afile/p.json"),
              "afile/p.json"),
    _run_case("unwritable-output", task, "predict-out-proc", _predict_out(task, "/proc/mltasks-p.json"),
              "/proc/mltasks-p.json"),
)] + [
    _run_case("unwritable-output", "rl", "gif-under-a-file", _gif("afile/e.gif"), "afile/e.gif"),
    _run_case("unwritable-output", "rl", "gif-proc", _gif("/proc/mltasks-e.gif"), "/proc/mltasks-e.gif"),
]

FULL_DISK = [
    _run_case("full-disk", task, "predict-out", _predict_out(task, "p.json"), "p.json",
              patch=full_disk(lambda c: c.work))
    for task in TASKS
] + [
    _run_case("full-disk", "rl", "gif", _gif("e.gif"), "e.gif", patch=full_disk(lambda c: c.work)),
]

# --- tmpdir: commands that succeed must still leave nothing in $TMPDIR --------------------------------


def _predict_ok(task: str):
    def build(ctx: Ctx, run: Path) -> list[str]:
        sets = ("--set", *PREDICT_SETS[task]) if task in PREDICT_SETS else ()
        return ["predict", str(run), *predict_inputs(task, ctx), *sets, "--out", str(ctx.tmp.parent / "p.json")]

    return build


TMPDIR = [
    _run_case("tmpdir", task, "predict", _predict_ok(task), "", exit=0)
    for task in TASKS
] + [
    Case("tmpdir", "rl-run", lambda c: ["run", "rl", "--quick", "--set", "timesteps=128", "eval_episodes=1",
                                        "num_threads=1", "--out", str(c.tmp.parent / "rl-run")], "", exit=0,
         needs=needs("rl")),
]

CASES = (UNKNOWN_TASK + UNKNOWN_KEY + WRONG_TYPE + OUT_OF_RANGE + CONFIG_FILE + BAD_DATA + LEFTOVERS + RUN_DIR
         + PREDICT + UNWRITABLE + FULL_DISK + TMPDIR)


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory) -> SharedRuns:
    """The trained runs rows share, one per task, trained when a row first needs it."""
    return SharedRuns(tmp_path_factory.mktemp("plugin-runs"))


@pytest.mark.parametrize("case", support.params(CASES))
def test_bad_input(case, tmp_path, monkeypatch, request):
    """One row of the corpus: exit status, one ``Error:`` line naming the problem, nothing left behind."""
    runs = {}
    shared = None
    for need in case.needs:
        kind, _, name = need.partition(":")
        if kind == "module":
            pytest.importorskip(name)
        elif kind == "run":
            shared = request.getfixturevalue("shared_runs")
            runs[name] = shared[name]
    ctx = support.make_ctx(tmp_path, monkeypatch, runs)
    ctx.samples = shared.samples if shared is not None else {}
    support.check(case, ctx)


def test_corpus_counts():
    """The closing note's table: rows per class (printed with ``-s``)."""
    counts = support.count_by_class(CASES)
    print("\nbad-input corpus (built-in plugins):", sum(counts.values()), counts)
    assert sum(counts.values()) >= 300

