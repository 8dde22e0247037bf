"""The bad-input corpus of the core and the example plugin: every way a careless user (or a tampered
run directory) can feed ``mltasks`` something wrong, each a clean exit 2 with one ``Error:`` line
that names the file or key, no traceback, and nothing left behind.

One row per case (``class/case`` ids, so ``pytest -k run-dir`` picks a class); the machinery is in
``bad_inputs_support.py``, the built-in plugins' rows in ``test_bad_inputs_plugins.py``. Rows that
fail today for a cause outside this corpus's reach are strict xfails saying where to fix it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mltasks.config import options

support = sys.modules["bad_inputs_support"]  # loaded by conftest.py
Case, Ctx, full_disk = support.Case, support.Ctx, support.full_disk
tables = support.sibling("bad_inputs_tables")

pytest.importorskip("mltasks_majority")

MAJ = "majority"
NEEDS_RUN = ("run:majority",)
IRIS_HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"
IRIS_ROWS = ["5.1,3.5,1.4,0.2,setosa", "7.0,3.2,4.7,1.4,versicolor", "6.3,3.3,6.0,2.5,virginica",
             "4.9,3.0,1.4,0.2,setosa", "6.4,3.2,4.5,1.5,versicolor", "5.8,2.7,5.1,1.9,virginica"]

def at(*parts: str):
    """A path in the working folder, as the args and fragment functions build it."""
    return lambda ctx: str(Path(*parts))


def data_case(klass: str, name: str, files: dict[str, str | bytes], data: str, fragment: str,
              extra: tuple[str, ...] = (), xfail: str = "") -> Case:
    """``mltasks run majority --data tables.DATA`` after writing ``files`` into the working folder."""

    def args(ctx: Ctx) -> list[str]:
        for rel, content in files.items():
            if content is None:
                (ctx.work / rel).mkdir(parents=True, exist_ok=True)
            else:
                ctx.write(ctx.work / rel, content)
        return ["run", MAJ, "--data", data, *extra]

    return Case(klass, name, args, fragment, xfail=xfail)


def csv(*rows: str, header: str = IRIS_HEADER) -> str:
    """A CSV text: the header and ``rows``."""
    return header + "".join(r + "\n" for r in rows)


# --- usage: how the command line itself is misused ---------------------------------------------------

USAGE = [
    Case("usage", "run-bare-pair", ["run", MAJ, "method=majority"], "--set method=majority"),
    Case("usage", "run-bare-word", ["run", MAJ, "quickly"], "--set KEY=VALUE"),
    Case("usage", "run-set-without-equals", ["run", MAJ, "--set", "method"], "KEY=VALUE"),
    Case("usage", "run-set-empty-key", ["run", MAJ, "--set", "=1"], "KEY=VALUE"),
    Case("usage", "run-set-missing-value", ["run", MAJ, "--set"], "--set"),
    Case("usage", "run-seed-not-int", ["run", MAJ, "--seed", "abc"], "--seed"),
    Case("usage", "run-seed-float", ["run", MAJ, "--seed", "1.5"], "--seed"),
    Case("usage", "run-unknown-option", ["run", MAJ, "--epochs", "3"], "--epochs"),
    Case("usage", "run-no-task", ["run"], "TASK"),
    Case("usage", "run-config-no-value", ["run", MAJ, "--config"], "--config"),
    Case("usage", "run-track-unknown", ["run", MAJ, "--track", "wandb"], "--track"),
    Case("usage", "run-resume-with-set", ["run", MAJ, "--resume", "--set", "method=majority"], "resumed run"),
    Case("usage", "run-resume-with-seed", ["run", MAJ, "--resume", "x", "--seed", "1"], "resumed run"),
    Case("usage", "run-resume-nothing", ["run", MAJ, "--resume"], "no interrupted majority run"),
    Case("usage", "run-resume-missing-dir", ["run", MAJ, "--resume", "nowhere"], "nowhere"),
    Case("usage", "run-register-without-model", ["run", MAJ, "--register", "m", "--track-model", "no"],
         "--track-model"),
    Case("usage", "run-out-is-cwd", ["run", MAJ, "--out", "."], "current directory"),
    Case("usage", "run-out-is-parent", ["run", MAJ, "--out", ".."], "current directory"),
    Case("usage", "evaluate-no-run", ["evaluate"], "RUN_DIR"),
    Case("usage", "evaluate-set-without-equals", lambda c: ["evaluate", str(c.run(MAJ)), "--set", "x"],
         "KEY=VALUE", needs=NEEDS_RUN),
    Case("usage", "predict-no-run", ["predict"], "RUN_DIR"),
    Case("usage", "predict-set-without-equals", lambda c: ["predict", str(c.run(MAJ)), "--set", "top_k"],
         "KEY=VALUE", needs=NEEDS_RUN),
    Case("usage", "predict-file-missing", lambda c: ["predict", str(c.run(MAJ)), "--file", "inputs.txt"],
         "inputs.txt", needs=NEEDS_RUN),
    Case("usage", "predict-file-is-folder",
         lambda c: (c.work / "inputs").mkdir() or ["predict", str(c.run(MAJ)), "--file", "inputs"],
         "inputs", needs=NEEDS_RUN),
    Case("usage", "predict-file-binary",
         lambda c: [c.write(c.work / "in.txt", b"\xff\xfe\x00garbage\x80") and "predict", str(c.run(MAJ)),
                    "--file", "in.txt"], "in.txt", needs=NEEDS_RUN),
    Case("usage", "info-no-task", ["info"], "TASK"),
    Case("usage", "compare-one-run", lambda c: ["compare", str(c.run(MAJ))], "at least two", needs=NEEDS_RUN),
    Case("usage", "compare-no-run", ["compare"], "RUN"),
    Case("usage", "runs-unknown-option", ["runs", "--bogus"], "--bogus"),
    Case("usage", "no-such-command", ["trian", MAJ], "trian"),
]

# --- unknown-task: a task name no plugin provides ----------------------------------------------------

UNKNOWN_TASK = [
    Case("unknown-task", f"{command}-{label}", [command, name], fragment)
    for command in ("run", "info")
    for label, name, fragment in (("nosuch", "nosuch", "unknown task 'nosuch'"),
                                  ("typo", "majorty", "majority"),
                                  ("upper-case", "MAJORITY", "unknown task 'MAJORITY'"),
                                  ("empty", "", "unknown task ''"),
                                  ("path", "../majority", "unknown task"))
] + [
    Case("unknown-task", "tune-nosuch", ["tune", "nosuch", "--trials", "1"], "nosuch", needs=("module:optuna",)),
    Case("unknown-task", "run-with-set", ["run", "nosuch", "--set", "epochs=1"], "unknown task 'nosuch'"),
]

# --- unknown-key: an option the task does not have -----------------------------------------------------

UNKNOWN_KEY = [
    Case("unknown-key", "run-set-nosuch", ["run", MAJ, "--set", "nosuch=1"], "'nosuch'"),
    Case("unknown-key", "run-set-typo", ["run", MAJ, "--set", "methd=majority"], "did you mean 'method'"),
    Case("unknown-key", "run-set-upper-case", ["run", MAJ, "--set", "Seed=1"], "'Seed'"),
    Case("unknown-key", "run-set-dotted", ["run", MAJ, "--set", "method.kind=x"], "'method.kind'"),
    Case("unknown-key", "run-set-other-task-key", ["run", MAJ, "--set", "epochs=2"], "'epochs'"),
    Case("unknown-key", "run-second-pair", ["run", MAJ, "--set", "seed=1", "nosuch=2"], "'nosuch'"),
    Case("unknown-key", "evaluate-set-nosuch", lambda c: ["evaluate", str(c.run(MAJ)), "--set", "nosuch=1"],
         "'nosuch'", needs=NEEDS_RUN),
    Case("unknown-key", "evaluate-set-seed", lambda c: ["evaluate", str(c.run(MAJ)), "--set", "seed=3"],
         "seed", needs=NEEDS_RUN),
    Case("unknown-key", "evaluate-set-split-seed",
         lambda c: ["evaluate", str(c.run(MAJ)), "--set", "split_seed=3"], "split_seed", needs=NEEDS_RUN),
    Case("unknown-key", "predict-option-typo", lambda c: ["predict", str(c.run(MAJ)), "1,2,3,4", "--set", "topk=2"],
         "'topk'", needs=NEEDS_RUN),
    Case("unknown-key", "predict-config-key", lambda c: ["predict", str(c.run(MAJ)), "1,2,3,4", "--set",
                                                         "method=majority"], "'method'", needs=NEEDS_RUN),
]

# --- wrong-type: a value of the wrong type for each option of the example plugin ----------------------

_BAD_VALUES = {"int": ("abc", "1.5", "true", "1e400"), "float": ("abc", "1,5", "true"), "bool": ("maybe", "2"),
               "choice": ("bogus", "")}


def _wrong_types() -> list[Case]:
    from mltasks_majority.config import MajorityConfig

    cases = []
    for opt in options(MajorityConfig):
        for value in _BAD_VALUES.get(opt.type, ()):
            label = value.replace(",", "comma").replace(".", "dot") or "empty"
            cases.append(Case("wrong-type", f"set-{opt.name}-{label}", ["run", MAJ, "--set", f"{opt.name}={value}"],
                              f"'{opt.name}'"))
    return cases


WRONG_TYPE = _wrong_types() + [
    Case("wrong-type", "seed-option-overflow", ["run", MAJ, "--seed", "99999999999999999999999"], "seed"),
]

# --- out-of-range: values of the right type that make no sense -----------------------------------------

OUT_OF_RANGE = [
    Case("out-of-range", "seed-negative", ["run", MAJ, "--set", "seed=-1"], "'seed'"),
    Case("out-of-range", "seed-option-negative", ["run", MAJ, "--seed", "-5"], "'seed'"),
    Case("out-of-range", "seed-too-large", ["run", MAJ, "--set", "seed=4294967296"], "'seed'"),
    Case("out-of-range", "num-threads-negative", ["run", MAJ, "--set", "num_threads=-4"], "'num_threads'"),
    Case("out-of-range", "split-seed-below-minus-one", ["run", MAJ, "--set", "split_seed=-2"], "'split_seed'"),
    Case("out-of-range", "split-seed-too-large", ["run", MAJ, "--set", "split_seed=4294967296"], "'split_seed'"),
    Case("out-of-range", "device-unknown", ["run", MAJ, "--set", "device=gpu0"], "'device'"),
    Case("out-of-range", "device-empty", ["run", MAJ, "--set", "device="], "'device'"),
    Case("out-of-range", "device-cuda-index", ["run", MAJ, "--set", "device=cuda:x"], "'device'"),
] + [
    Case("out-of-range", f"test-size-{label}", ["run", MAJ, "--set", f"test_size={value}"], "test_size")
    for label, value in (("zero", "0"), ("one", "1"), ("negative", "-0.2"), ("above-one", "1.5"), ("nan", "nan"),
                         ("inf", "inf"))
] + [
    Case("out-of-range", f"predict-top-k-{label}",
         lambda c, v=value: ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--set", f"top_k={v}"], "top_k",
         needs=NEEDS_RUN)
    for label, value in (("zero", "0"), ("negative", "-1"), ("float", "1.5"), ("text", "abc"), ("bool", "true"))
]

# --- config-file: bad TOML files given with --config ---------------------------------------------------


def toml_case(name: str, content: str | bytes | None, fragment: str, file: str = "conf.toml") -> Case:
    """``run majority --config FILE`` with ``content`` written to FILE (None: FILE is not written)."""

    def args(ctx: Ctx) -> list[str]:
        if content is not None:
            ctx.write(ctx.work / file, content)
        return ["run", MAJ, "--config", file]

    return Case("config-file", name, args, fragment)


CONFIG_FILE = [
    toml_case("missing", None, "conf.toml: config file not found"),
    Case("config-file", "is-folder", lambda c: (c.work / "conf.toml").mkdir() or ["run", MAJ, "--config", "conf.toml"],
         "conf.toml"),
    toml_case("binary-garbage", bytes(range(256)) * 4, "conf.toml"),
    toml_case("latin-1", "label_col = \"esp\xe8ce\"\n".encode("latin-1"), "not UTF-8"),
    toml_case("utf-16", "seed = 1\n".encode("utf-16"), "conf.toml"),
    toml_case("syntax-error", "seed = \n", "not valid TOML"),
    toml_case("unclosed-string", "label_col = \"species\n", "not valid TOML"),
    toml_case("duplicate-key", "seed = 1\nseed = 2\n", "not valid TOML"),
    toml_case("json-not-toml", '{"seed": 1}', "not valid TOML"),
    toml_case("config-not-table", "config = 3\n", "'config' must be a table"),
    toml_case("unknown-key", "nosuch = 1\n", "'nosuch'"),
    toml_case("unknown-key-in-table", "[config]\nmethd = \"majority\"\n", "did you mean 'method'"),
    toml_case("unknown-section", "[model]\nmethod = \"majority\"\n", "'model'"),
    toml_case("wrong-type-float", "test_size = \"abc\"\n", "'test_size'"),
    toml_case("wrong-type-int", "seed = 1.5\n", "'seed'"),
    toml_case("wrong-type-bool-for-int", "seed = true\n", "'seed'"),
    toml_case("wrong-type-choice", "method = 3\n", "'method'"),
    toml_case("wrong-type-list", "label_col = [\"a\", \"b\"]\n", "'label_col'"),
    toml_case("wrong-type-table", "[config.test_size]\nvalue = 0.5\n", "'test_size'"),
    toml_case("out-of-range-seed", "seed = -1\n", "'seed'"),
    toml_case("out-of-range-threads", "num_threads = -4\n", "'num_threads'"),
    toml_case("out-of-range-test-size", "test_size = 2.0\n", "test_size"),
    toml_case("choice-unknown", "method = \"forest\"\n", "'method'"),
    toml_case("track-unknown", "[run]\ntrack = \"wandb\"\n", "conf.toml: [run] track: unknown tracker 'wandb'"),
    toml_case("track-among-options", "track = \"mlflow\"\n", "conf.toml: unknown config key 'track'"),
    toml_case("experiment-in-config-table", "[config]\nexperiment = \"e\"\n", "move it to the [run] table"),
    toml_case("run-unknown-key", "[run]\ntracker = \"mlflow\"\n", "unknown [run] key 'tracker'"),
    toml_case("run-not-a-table", "run = \"fast\"\n", "'run' must be a table"),
]

# --- bad-data: data files the example plugin cannot use -----------------------------------------------

BAD_DATA = [
    Case("bad-data", "missing-file", ["run", MAJ, "--data", "nowhere.csv"], "nowhere.csv"),
    data_case("bad-data", "empty-folder", {"folder": None}, "folder", "folder"),
    data_case("bad-data", "folder-with-csv", {"folder/iris.csv": csv(*IRIS_ROWS)}, "folder", "folder"),
    data_case("bad-data", "empty-file", {"e.csv": ""}, "e.csv", "e.csv"),
    data_case("bad-data", "blank-lines", {"e.csv": "\n \n\n"}, "e.csv", "e.csv"),
    data_case("bad-data", "header-only", {"h.csv": IRIS_HEADER}, "h.csv", "h.csv"),
    data_case("bad-data", "binary-garbage", {"g.csv": bytes(range(256)) * 8}, "g.csv", "g.csv"),
    data_case("bad-data", "gzip-bytes", {"z.csv": b"\x1f\x8b\x08\x00" + bytes(200)}, "z.csv", "z.csv"),
    data_case("bad-data", "latin-1", {"l.csv": csv("5.1,3.5,1.4,0.2,s\xe9tosa", *IRIS_ROWS).encode("latin-1")},
              "l.csv", "l.csv"),
    data_case("bad-data", "utf-16", {"u.csv": csv(*IRIS_ROWS).encode("utf-16")}, "u.csv", "u.csv"),
    data_case("bad-data", "non-numeric-feature", {"n.csv": csv("5.1,big,1.4,0.2,setosa", *IRIS_ROWS)}, "n.csv",
              "non-numeric"),
    data_case("bad-data", "ragged-row", {"r.csv": csv("5.1,3.5,1.4,setosa", *IRIS_ROWS)}, "r.csv", "line 2"),
    data_case("bad-data", "extra-field", {"r.csv": csv(*IRIS_ROWS, "5.1,3.5,1.4,0.2,0.1,setosa")}, "r.csv",
              "line 8"),
    data_case("bad-data", "label-only", {"o.csv": "species\nsetosa\nvirginica\n"}, "o.csv", "no feature columns"),
    data_case("bad-data", "one-class", {"c.csv": csv(*(r for r in IRIS_ROWS if r.endswith("setosa")))}, "c.csv",
              "two classes"),
    data_case("bad-data", "one-row-per-class", {"c.csv": csv(*IRIS_ROWS[:3])}, "c.csv", "c.csv"),
    data_case("bad-data", "nan-feature", {"f.csv": csv("nan,3.5,1.4,0.2,setosa", *IRIS_ROWS)}, "f.csv", "line 2"),
    data_case("bad-data", "inf-feature", {"f.csv": csv("5.1,inf,1.4,0.2,setosa", *IRIS_ROWS)}, "f.csv", "line 2"),
    data_case("bad-data", "label-col-missing", {"i.csv": csv(*IRIS_ROWS)}, "i.csv", "'kind'",
              extra=("--set", "label_col=kind")),
    data_case("bad-data", "unclosed-quote", {"q.csv": csv('5.1,3.5,1.4,0.2,"setosa', *IRIS_ROWS)}, "q.csv", "q.csv"),
    Case("bad-data", "device-file", ["run", MAJ, "--data", "/dev/null"], "/dev/null"),
    Case("bad-data", "symlink-loop", lambda c: os.symlink("loop.csv", c.work / "loop.csv") or
         ["run", MAJ, "--data", "loop.csv"], "loop.csv"),
    Case("bad-data", "dangling-symlink", lambda c: os.symlink("gone.csv", c.work / "link.csv") or
         ["run", MAJ, "--data", "link.csv"], "link.csv"),
]


def evaluate_data(name: str, content: str | bytes, fragment: str, xfail: str = "") -> Case:
    """``mltasks evaluate RUN --data FILE`` on the shared run, FILE holding ``content``."""

    def args(ctx: Ctx) -> list[str]:
        ctx.write(ctx.work / "other.csv", content)
        return ["evaluate", str(ctx.run(MAJ)), "--data", "other.csv"]

    return Case("bad-data", f"evaluate-{name}", args, fragment, needs=NEEDS_RUN, xfail=xfail)


BAD_DATA += [
    evaluate_data("other-columns", csv("1,2,a", "3,4,b", "5,6,a", "7,8,b", header="x,y,label\n"), "columns"),
    evaluate_data("renamed-columns", csv(*IRIS_ROWS, header="a,b,c,d,species\n"), "columns"),
    evaluate_data("unseen-labels", csv(*(r.rsplit(",", 1)[0] + ",rose" for r in IRIS_ROWS)), "other.csv"),
    evaluate_data("empty", "", "other.csv"),
    evaluate_data("binary-garbage", bytes(range(256)) * 4, "other.csv"),
    Case("bad-data", "evaluate-missing", lambda c: ["evaluate", str(c.run(MAJ)), "--data", "nowhere.csv"],
         "nowhere.csv", needs=NEEDS_RUN),
    Case("bad-data", "predict-too-few-values", lambda c: ["predict", str(c.run(MAJ)), "5.1,3.5"], "4 numbers",
         needs=NEEDS_RUN),
    Case("bad-data", "predict-not-numbers", lambda c: ["predict", str(c.run(MAJ)), "a,b,c,d"], "'a,b,c,d'",
         needs=NEEDS_RUN),
    Case("bad-data", "predict-file-of-garbage",
         lambda c: [c.write(c.work / "in.txt", "1,2,3,4\nnot numbers\n") and "predict", str(c.run(MAJ)),
                    "--file", "in.txt"], "not numbers", needs=NEEDS_RUN),
]

# --- run-dir: a run directory broken by hand or by an attacker -----------------------------------------




def tamper_case(command: str, name: str, change, fragment: str, xfail: str = "") -> Case:
    """``mltasks COMMAND`` on a copy of the shared run with ``change`` applied."""

    def args(ctx: Ctx) -> list[str]:
        path = ctx.copy_run(MAJ)
        change(tables.Tamper(ctx, path))
        tail = {"evaluate": [], "predict": ["5.1,3.5,1.4,0.2"], "serve": ["--port", "0"]}[command]
        return [command, "run", *tail]

    return Case("run-dir", f"{command}-{name}", args, fragment, needs=NEEDS_RUN, xfail=xfail)


RUN_DIR = [
    tamper_case(command, name, change, fragment)
    for command in ("evaluate", "predict")
    for name, (change, fragment) in tables.TAMPER.items()
] + [
    tamper_case("evaluate", "run-json-list", lambda r: r.put("run.json", "[]"), "run.json"),
    tamper_case("evaluate", "run-json-garbage", lambda r: r.put("run.json", b"\xff\x00"), "run.json"),
    tamper_case("evaluate", "run-json-missing", lambda r: r.unlink("run.json"), "run.json"),
    Case("run-dir", "evaluate-no-such-dir", ["evaluate", "nowhere"], "nowhere"),
    Case("run-dir", "predict-no-such-dir", ["predict", "nowhere", "1,2,3,4"], "nowhere"),
    Case("run-dir", "predict-a-file", lambda c: [c.write(c.work / "f", "x") and "predict", "f", "1,2,3,4"], "f"),
    Case("run-dir", "evaluate-empty-folder", lambda c: (c.work / "empty").mkdir() or ["evaluate", "empty"],
         "config.json"),
    Case("run-dir", "predict-partial-run", lambda c: (c.work / ".r.partial").mkdir() or
         ["predict", ".r.partial", "1,2,3,4"], "config.json"),
    Case("run-dir", "evaluate-task-swapped",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("config.json", json.dumps({"task": "toy", "config": {}})) or
         ["evaluate", "run"], "does not fit task 'toy'", needs=(*NEEDS_RUN, "toy")),
    Case("run-dir", "predict-task-swapped",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("config.json", json.dumps({"task": "toy"})) or
         ["predict", "run", "1"], "does not fit task 'toy'", needs=(*NEEDS_RUN, "toy")),
]

# --- unwritable-output: output paths that cannot be written --------------------------------------------


def _history_runs(ctx: Ctx) -> list[str]:
    """Two copies of the shared run that kept a training history (compare plots only those)."""
    names = []
    for name in ("a", "b"):
        path = ctx.copy_run(MAJ, name)
        ctx.write(path / "history.json", json.dumps([{"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": 0.5}]))
        names.append(str(path))
    return names


def _a_file(ctx: Ctx) -> str:
    ctx.write(ctx.work / "afile", "x")
    return "afile"


UNWRITABLE = [
    Case("unwritable-output", "predict-out-under-a-file",
         lambda c: ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--out", f"{_a_file(c)}/p.json"], "afile/p.json",
         needs=NEEDS_RUN),
    Case("unwritable-output", "predict-out-read-only-fs",
         lambda c: ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--out", "/proc/mltasks-p.json"],
         "/proc/mltasks-p.json", needs=NEEDS_RUN),
    Case("unwritable-output", "predict-out-is-folder",
         lambda c: (c.work / "out").mkdir() or ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--out", "out"],
         "out", needs=NEEDS_RUN),
    Case("unwritable-output", "compare-plot-under-a-file", lambda c: ["compare", *_history_runs(c), "--plot",
                                                                      f"{_a_file(c)}/c.png"], "afile/c.png",
         needs=NEEDS_RUN),
    Case("unwritable-output", "compare-plot-read-only-fs",
         lambda c: ["compare", *_history_runs(c), "--plot", "/proc/mltasks-c.png"], "/proc/mltasks-c.png",
         needs=NEEDS_RUN),
    Case("unwritable-output", "compare-plot-is-folder",
         lambda c: (c.work / "p.png").mkdir() or ["compare", *_history_runs(c), "--plot", "p.png"], "p.png",
         needs=NEEDS_RUN),
    Case("unwritable-output", "run-out-under-a-file", lambda c: ["run", MAJ, "--out", f"{_a_file(c)}/r"], "afile/r"),
    Case("unwritable-output", "run-out-read-only-fs", ["run", MAJ, "--out", "/proc/mltasks-run"], "/proc/mltasks-run"),
    Case("unwritable-output", "run-out-is-a-file", lambda c: ["run", MAJ, "--out", _a_file(c)], "afile"),
    Case("unwritable-output", "run-out-not-a-run", lambda c: c.write(c.work / "mine" / "notes.txt", "mine") and
         ["run", MAJ, "--out", "mine", "--force"], "not a run directory"),
]

# --- full-disk: the user's disk fills up while mltasks writes (ENOSPC, simulated) -----------------------

FULL_DISK = [
    Case("full-disk", "predict-out", lambda c: ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--out", "p.json"],
         "p.json", needs=NEEDS_RUN, patch=full_disk(lambda c: c.work)),
    Case("full-disk", "predict-out-json", lambda c: ["predict", str(c.run(MAJ)), "5.1,3.5,1.4,0.2", "--json",
                                                     "--out", "sub/p.json"],
         "No space left on device", needs=NEEDS_RUN, patch=full_disk(lambda c: c.work)),
    Case("full-disk", "compare-plot", lambda c: ["compare", *_history_runs(c), "--plot", "c.png"], "c.png",
         needs=NEEDS_RUN, patch=full_disk(lambda c: c.work)),
    Case("full-disk", "run-config-json", ["run", MAJ, "--out", "r"], "No space left on device",
         patch=full_disk(lambda c: c.work)),
    Case("full-disk", "run-default-root", ["run", MAJ], "No space left on device",
         patch=full_disk(lambda c: c.work)),
    Case("full-disk", "run-model-save", ["run", MAJ, "--out", "r"], "model/task_config.json",
         patch=full_disk(lambda c: c.work / ".r.partial" / "model"), midway=True),
]

# --- leftovers: a failed run leaves no empty folders -----------------------------------------------------

LEFTOVERS = [
    Case("leftovers", "default-root-bad-option", ["run", MAJ, "--set", "test_size=3"], "test_size"),
    Case("leftovers", "default-root-bad-data", ["run", MAJ, "--data", "nowhere.csv"], "nowhere.csv"),
    Case("leftovers", "nested-out-bad-data", lambda c: c.write(c.work / "e.csv", "") and
         ["run", MAJ, "--out", "a/b/c/run", "--data", "e.csv"], "e.csv"),
    Case("leftovers", "existing-root-kept", lambda c: (c.work / "runs").mkdir() or c.write(c.work / "e.csv", "") and
         ["run", MAJ, "--data", "e.csv"], "e.csv"),
    Case("leftovers", "one-row-per-class-nested-out", lambda c: c.write(c.work / "c.csv", csv(*IRIS_ROWS[:3])) and
         ["run", MAJ, "--out", "x/y", "--data", "c.csv"], "c.csv"),
    Case("leftovers", "existing-run-not-replaced", lambda c: c.copy_run(MAJ, "r") and
         ["run", MAJ, "--out", "r"], "already exists", needs=NEEDS_RUN),
    Case("leftovers", "tracked-bad-data", lambda c: c.write(c.work / "e.csv", "") and
         ["run", MAJ, "--track", "--data", "e.csv"], "e.csv", needs=("module:mlflow",),
         patch=lambda c: c.patcher.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{c.tmp.parent}/mlflow.db")),
    Case("leftovers", "force-with-bad-data", lambda c: c.copy_run(MAJ, "r") and c.write(c.work / "e.csv", "") and
         ["run", MAJ, "--out", "r", "--force", "--data", "e.csv"], "e.csv", needs=NEEDS_RUN),
]

# --- runs-listing: mltasks runs and compare on folders that are not runs ------------------------------


def _loop(ctx: Ctx) -> str:
    os.symlink("loop", ctx.work / "loop")
    return "loop"


def _fake_run(ctx: Ctx, name: str, task: str) -> str:
    ctx.write(ctx.work / name / "run.json", json.dumps({"task": task, "status": "complete"}))
    ctx.write(ctx.work / name / "config.json", json.dumps({"task": task, "config": {}}))
    return name


RUNS_LISTING = [
    Case("runs-listing", "missing-folder", ["runs", "nowhere"], "nowhere"),
    Case("runs-listing", "missing-folder-json", ["runs", "nowhere", "--json"], "nowhere"),
    Case("runs-listing", "second-folder-missing", lambda c: (c.work / "runs").mkdir() or ["runs", "runs", "nowhere"],
         "nowhere"),
    Case("runs-listing", "a-file", lambda c: ["runs", _a_file(c)], "afile"),
    Case("runs-listing", "symlink-loop", lambda c: ["runs", _loop(c)], "loop"),
    Case("runs-listing", "dangling-symlink", lambda c: os.symlink("gone", c.work / "link") or ["runs", "link"], "link"),
    Case("runs-listing", "compare-missing-run", lambda c: ["compare", str(c.run(MAJ)), "nowhere"], "nowhere",
         needs=NEEDS_RUN),
    Case("runs-listing", "compare-not-a-run", lambda c: (c.work / "plain").mkdir() or
         ["compare", str(c.run(MAJ)), "plain"], "no run.json", needs=NEEDS_RUN),
    Case("runs-listing", "compare-other-task", lambda c: ["compare", str(c.run(MAJ)), _fake_run(c, "t", "toy")],
         "different tasks", needs=NEEDS_RUN),
    Case("runs-listing", "compare-config-list",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("config.json", "[]") or ["compare", str(c.run(MAJ)), "run"],
         "config.json", needs=NEEDS_RUN),
    Case("runs-listing", "compare-run-json-garbage",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("run.json", b"\xff") or ["compare", str(c.run(MAJ)), "run"],
         "run.json", needs=NEEDS_RUN),
    Case("runs-listing", "compare-loop", lambda c: ["compare", str(c.run(MAJ)), _loop(c)], "loop", needs=NEEDS_RUN),
    Case("runs-listing", "compare-27-runs", lambda c: ["compare", *[str(c.run(MAJ))] * 27], "at most 26",
         needs=NEEDS_RUN),
]

# --- serve: only what fails before the server starts (serve is being reworked elsewhere) ---------------

SERVE = [
    Case("serve", "no-such-run", ["serve", "nowhere"], "nowhere", needs=("module:uvicorn",)),
    Case("serve", "port-out-of-range", lambda c: ["serve", str(c.run(MAJ)), "--port", "70000"], "--port",
         needs=(*NEEDS_RUN, "module:uvicorn")),
    Case("serve", "workers-zero", lambda c: ["serve", str(c.run(MAJ)), "--workers", "0"], "--workers",
         needs=(*NEEDS_RUN, "module:uvicorn")),
    Case("serve", "config-list",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("config.json", "[]") or ["serve", "run", "--port", "0"],
         "config.json", needs=(*NEEDS_RUN, "module:uvicorn")),
    Case("serve", "model-missing",
         lambda c: tables.Tamper(c, c.copy_run(MAJ)).unlink("model") or ["serve", "run", "--port", "0"], "model",
         needs=(*NEEDS_RUN, "module:uvicorn")),
]

# --- one-line: the real process prints one line on its real streams -----------------------------------

ONE_LINE = [
    Case("one-line", "bad-option", ["run", MAJ, "--set", "test_size=2"], "test_size", subprocess=True),
    Case("one-line", "bad-data", lambda c: c.write(c.work / "e.csv", "") and ["run", MAJ, "--data", "e.csv"], "e.csv",
         subprocess=True),
    Case("one-line", "one-row-per-class", lambda c: c.write(c.work / "c.csv", csv(*IRIS_ROWS[:3])) and
         ["run", MAJ, "--data", "c.csv"], "c.csv", subprocess=True),
    Case("one-line", "negative-seed", ["run", MAJ, "--seed", "-1"], "seed", subprocess=True),
    Case("one-line", "missing-runs-folder", ["runs", "nowhere"], "nowhere", subprocess=True),
    Case("one-line", "tampered-run", lambda c: tables.Tamper(c, c.copy_run(MAJ)).put("config.json", "[]") or
         ["predict", "run", "1,2,3,4"], "config.json", needs=NEEDS_RUN, subprocess=True),
]

CASES = (USAGE + UNKNOWN_TASK + UNKNOWN_KEY + WRONG_TYPE + OUT_OF_RANGE + CONFIG_FILE + BAD_DATA + RUN_DIR
         + UNWRITABLE + FULL_DISK + LEFTOVERS + RUNS_LISTING + SERVE + ONE_LINE)


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory):
    """One finished majority run, shared by every row that needs a run (rows never change it)."""
    import mltasks

    root = tmp_path_factory.mktemp("shared-runs")
    result = mltasks.run(MAJ, out=root / "majority")
    return {MAJ: result.run_dir}


@pytest.mark.parametrize("case", support.params(CASES))
def test_bad_input(case, tmp_path, monkeypatch, request):
    """One row of the corpus: exit status, one ``Error:`` line naming the problem, nothing left behind."""
    runs, fixtures = {}, {}
    for need in case.needs:
        kind, _, name = need.partition(":")
        if kind == "module":
            pytest.importorskip(name)
        elif kind == "run":
            runs[name] = request.getfixturevalue("shared_runs")[name]
        else:
            fixtures[need] = request.getfixturevalue(need)
    support.check(case, support.make_ctx(tmp_path, monkeypatch, runs, fixtures))


def test_corpus_counts():
    """The closing note's table: rows per class (printed with ``-s``); every class has rows."""
    counts = support.count_by_class(CASES)
    print("\nbad-input corpus (core and example plugin):", sum(counts.values()), counts)
    assert set(counts) >= {"usage", "unknown-task", "unknown-key", "wrong-type", "out-of-range", "config-file",
                           "bad-data", "run-dir", "unwritable-output", "full-disk", "leftovers", "runs-listing",
                           "one-line"}
