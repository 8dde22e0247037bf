"""The data tables of the bad-input corpus: what each row feeds in and the fragment its error line
must hold (loaded by path by ``test_bad_inputs.py`` and ``test_bad_inputs_plugins.py``).

Plugin tables map a case name to ``(files, data, fragment, sets)``: ``files`` written into the
case's working folder (relative path -> text or bytes; None makes a folder), ``data`` given to
``--data``, ``fragment`` expected in the ``Error:`` line, and ``--set`` pairs.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

GARBAGE = bytes(range(256)) * 8

# --- the example plugin's run directory, broken by hand or by an attacker ------------------------------

MAJ = "majority"


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


TAMPER = {
    # name: (change to the copied run, fragment of the error line)
    "config-missing": (lambda r: r.unlink("config.json"), "config.json"),
    "config-empty": (lambda r: r.put("config.json", ""), "config.json"),
    "config-garbage": (lambda r: r.put("config.json", bytes(range(256))), "config.json"),
    "config-list": (lambda r: r.put("config.json", "[1, 2]"), "config.json"),
    "config-no-task": (lambda r: r.put("config.json", json.dumps({"data": None, "config": {}})), "'task'"),
    "config-task-number": (lambda r: r.put("config.json", json.dumps({"task": 3})), "'task'"),
    "config-task-unknown": (lambda r: r.put("config.json", json.dumps({"task": "nosuch"})), "nosuch"),
    "config-config-list": (lambda r: r.put("config.json", json.dumps({"task": MAJ, "config": [1]})), "'config'"),
    "config-deep": (lambda r: r.put("config.json", _deep_json(100_000)), "nested"),
    "config-to-dev-zero": (lambda r: r.link("config.json", "/dev/zero"), "config.json"),
    "config-symlink-out": (lambda r: r.link("config.json", r.outside("stolen.json", '{"task": "majority"}')),
                           "outside"),
    "model-missing": (lambda r: r.unlink("model"), "model"),
    "model-is-file": (lambda r: r.unlink("model") or r.put("model", "x"), "model"),
    "model-symlink-out": (lambda r: r.move_out("model"), "run/model"),
    "task-config-missing": (lambda r: r.unlink("model/task_config.json"), "task_config.json"),
    "task-config-list": (lambda r: r.put("model/task_config.json", "[]"), "task_config.json"),
    "task-config-unknown-key": (lambda r: r.put("model/task_config.json", json.dumps({"epochs": 3})), "epochs"),
    "task-config-bad-value": (lambda r: r.put("model/task_config.json", json.dumps({"test_size": 7})), "test_size"),
    "classes-list": (lambda r: r.put("model/classes.json", "[]"), "classes.json"),
    "classes-garbage": (lambda r: r.put("model/classes.json", b"\x80\x81"), "classes.json"),
    "array-missing": (lambda r: r.unlink("model/mean.npy"), "mean.npy"),
    "array-garbage": (lambda r: r.put("model/mean.npy", b"\x93NUMPY garbage"), "mean.npy"),
    "array-pickled": (lambda r: r.put("model/mean.npy", _pickled_npy()), "mean.npy"),
    "array-wrong-shape": (lambda r: r.put("model/centroids.npy", _npy([[1.0, 2.0]])), "do not fit"),
    "fifo-in-model": (lambda r: os.mkfifo(r.path / "model" / "pipe"), "pipe"),
    "device-in-model": (lambda r: r.link("model/mean.npy", "/dev/zero"), "mean.npy"),
}


class Tamper:
    """Helpers for the TAMPER table, working on a copy of the shared run."""

    def __init__(self, ctx: Any, path: Path) -> None:
        self.ctx, self.path = ctx, path

    def unlink(self, rel: str) -> None:
        self.ctx.remove(self.path / rel)

    def put(self, rel: str, content: str | bytes) -> None:
        self.ctx.write(self.path / rel, content)

    def link(self, rel: str, target: str | Path) -> None:
        self.ctx.remove(self.path / rel)
        os.symlink(target, self.path / rel)

    def outside(self, name: str, content: str) -> Path:
        return self.ctx.write(self.ctx.work / name, content)

    def move_out(self, rel: str) -> None:
        outside = self.ctx.work / f"outside-{rel}"
        (self.path / rel).rename(outside)
        os.symlink(outside, self.path / rel)


def _npy(value: object) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value))
    return buffer.getvalue()


def _pickled_npy() -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


# --- out-of-range values per plugin -----------------------------------------------------------------------

COMMON_RANGES = (("seed-negative", "seed=-1", "'seed'"), ("num-threads-negative", "num_threads=-4", "'num_threads'"),
                 ("split-seed-negative", "split_seed=-7", "'split_seed'"), ("device-unknown", "device=gpu", "'device'"),
                 ("seed-too-large", "seed=4294967296", "'seed'"))
RANGES = {
    "text": ("val_size=0", "test_size=1.5", "max_features=0", "epochs=0", "lr=-1", "batch_size=0", "dropout=1.5",
             "min_freq=0", "weight_decay=-1", "warmup_ratio=1", "C=0", "lr=nan", "epoch_budget=0", "max_length=0",
             "patience=0", "embed_dim=0", "hidden_size=0", "max_per_class=0"),
    "image": ("image_size=33", "epochs=-1", "batch_size=0", "bn_momentum=2", "unfreeze=-2", "val_fraction=1.5",
              "top_k=0", "reg_c=-1"),
    "speech": ("sample_rate=100", "clip_seconds=0", "vtlp=0.9", "min_confidence=1.5", "window_hop_s=0",
               "augment_copies=-1", "beam_width=0", "snr_db=30,5", "augment_kinds=bogus", "snr_db=1,2,3", "lr=-1",
               "dropout=1", "noise_prob=1.5", "max_per_class=-1"),
    "rl": ("timesteps=-1", "n_envs=-1", "gamma=0", "gamma=1.5", "learning_rate=-1", "net_arch=0,64",
           "eval_episodes=0", "n_steps=0", "gae_lambda=2", "gae_lambda=-0.5", "ent_coef=-1", "learning_rate=nan",
           "batch_size=0", "n_epochs=0", "report_points=0", "max_episode_steps=-1"),
    "recommender": ("factors=0", "iterations=-1", "regularization=-1", "alpha=-1", "k=0", "holdout=0",
                    "min_rating=nan", "min_rating=inf"),
    "kaggle": ("folds=1", "cv_repeats=0", "ensemble=-1", "max_categories=0", "rf_max_features=2",
               "models=bogus", "models=linear,linear", "hgb_learning_rate=0", "metric=bogus"),
    "llm": ("sparsity=1", "distill_alpha=2", "lora_r=-1", "temperature=0", "batch_size=0", "student_layers=0",
            "ngram_order=0", "lr=-1", "epochs=0", "max_steps=-1", "max_length=-1", "val_size=0", "test_size=1",
            "test_size=0.9", "lora_dropout=1.5", "lora_alpha=0", "latency_repeats=-1", "distill_epochs=-1"),
}


# --- bad data per plugin and format -----------------------------------------------------------------------

TEXT_ROWS = "".join(f"sentence number {i} about {t},{t}\n" for i in range(6) for t in ("sports", "food"))
TABLE_DATA = {  # text-plugin tables (text, llm): name -> (files, data, fragment, sets)
    "missing": ({}, "nowhere.csv", "nowhere.csv", ()),
    "empty-folder": ({"empty": None}, "empty", "empty", ()),
    "empty-csv": ({"e.csv": ""}, "e.csv", "e.csv", ()),
    "header-only": ({"h.csv": "text,label\n"}, "h.csv", "h.csv", ()),
    "binary-garbage": ({"g.csv": GARBAGE}, "g.csv", "g.csv", ()),
    "utf-16": ({"u.csv": ("text,label\n" + TEXT_ROWS).encode("utf-16")}, "u.csv", "u.csv", ()),
    "wrong-columns": ({"w.csv": "a,b\n" + TEXT_ROWS}, "w.csv", "w.csv", ()),
    "one-class": ({"o.csv": "text,label\n" + "".join(f"t{i},x\n" for i in range(12))}, "o.csv", "o.csv", ()),
    "blank-texts": ({"b.csv": "text,label\n ,a\n,b\n \t,a\n"}, "b.csv", "b.csv", ()),
    "jsonl-garbage": ({"x.jsonl": "{not json\n"}, "x.jsonl", "x.jsonl", ()),
    "jsonl-not-objects": ({"x.jsonl": "[1, 2]\n[3, 4]\n"}, "x.jsonl", "x.jsonl", ()),
    "gzip-garbage": ({"x.csv.gz": GARBAGE}, "x.csv.gz", "x.csv.gz", ()),
    "text-col-missing": ({"t.csv": "text,label\n" + TEXT_ROWS}, "t.csv", "nosuch", ("text_col=nosuch",)),
}

IMAGE_DATA = {
    "missing": ({}, "nowhere", "nowhere", ()),
    "empty-folder": ({"empty": None}, "empty", "empty", ()),
    "text-file": ({"notes.txt": "hello"}, "notes.txt", "notes.txt", ()),
    "garbage-pngs": ({"g/a/1.png": GARBAGE, "g/a/2.png": GARBAGE, "g/b/1.png": GARBAGE, "g/b/2.png": GARBAGE},
                     "g", "1.png", ()),
    "zero-byte-pngs": ({"z/a/1.png": b"", "z/a/2.png": b"", "z/b/1.png": b"", "z/b/2.png": b""}, "z", "1.png", ()),
    "one-class": ({"o/a/1.png": "png", "o/a/2.png": "png"}, "o", "o", ()),
    "empty-class-folders": ({"c/a": None, "c/b": None}, "c", "c", ()),
    "test-val-no-train": ({"s/test/a/1.png": "x", "s/val/a/1.png": "x", "s/test/b/1.png": "x", "s/val/b/1.png": "x"},
                          "s", "train", ()),
    "csv-missing-images": ({"l.csv": "path,label\nnone1.png,a\nnone2.png,b\n"}, "l.csv", "none1.png", ()),
    "csv-wrong-columns": ({"l.csv": "file,class\nx.png,a\n"}, "l.csv", "l.csv", ()),
    "csv-garbage": ({"l.csv": GARBAGE}, "l.csv", "l.csv", ()),
    "csv-bad-split": ({"l.csv": "path,label,split\na.png,a,trian\n"}, "l.csv", "trian", ()),
}

SPEECH_DATA = {
    "missing": ({}, "nowhere", "nowhere", ()),
    "empty-folder": ({"empty": None}, "empty", "empty", ()),
    "text-file": ({"notes.txt": "hello"}, "notes.txt", "notes.txt", ()),
    "garbage-wavs": ({f"g/{w}/s{i}_nohash_0.wav": GARBAGE for w in ("yes", "no") for i in range(3)}, "g", ".wav", ()),
    "zero-byte-wavs": ({f"z/{w}/s{i}_nohash_0.wav": b"" for w in ("yes", "no") for i in range(3)}, "z", ".wav", ()),
    "riff-header-only": ({f"r/{w}/s{i}_nohash_0.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " for w in ("yes", "no")
                          for i in range(3)}, "r", ".wav", ()),
    "transcribe-no-manifest": ({"t/yes/a.wav": GARBAGE}, "t", "manifest", ("mode=transcribe",)),
    "manifest-wrong-columns": ({"m.csv": "file,words\na.wav,hello\n"}, "m.csv", "m.csv", ("mode=transcribe",)),
    "manifest-missing-audio": ({"m.csv": "path,transcript\nnone1.wav,one\nnone2.wav,two\n"}, "m.csv", "none1.wav",
                               ("mode=transcribe",)),
    "manifest-garbage": ({"m.csv": GARBAGE}, "m.csv", "m.csv", ("mode=transcribe",)),
}

RL_DATA = {
    "unknown-env": ({}, "NoSuchEnv-v0", "NoSuchEnv-v0", ()),
    "lower-case-env": ({}, "cartpole-v1", "cartpole-v1", ()),
    "unversioned-env": ({}, "CartPoleX", "CartPoleX", ()),
    "module-prefix": ({}, "evilmod:CartPole-v1", "evilmod", ()),
    "env-module-missing": ({}, "CartPole-v1", "nosuch_module_xyz", ("env_module=nosuch_module_xyz",)),
    "a-file": ({"env.txt": "CartPole-v1"}, "env.txt", "env.txt", ()),
    "dqn-continuous": ({}, "Pendulum-v1", "dqn", ("algo=dqn",)),
}

REC_HEADER = "user_id,item_id,rating,timestamp\n"
REC_DATA = {
    "missing": ({}, "nowhere.csv", "nowhere.csv", ()),
    "empty-folder": ({"empty": None}, "empty", "empty", ()),
    "empty-csv": ({"e.csv": ""}, "e.csv", "e.csv", ()),
    "header-only": ({"h.csv": REC_HEADER}, "h.csv", "h.csv", ()),
    "binary-garbage": ({"g.csv": GARBAGE}, "g.csv", "g.csv", ()),
    "latin-1": ({"l.csv": (REC_HEADER + "caf\xe9,i1,5,1\n" * 3).encode("latin-1")}, "l.csv", "l.csv", ()),
    "wrong-columns": ({"w.csv": "a,b,c\n1,2,3\n4,5,6\n"}, "w.csv", "w.csv", ()),
    "user-col-missing": ({"u.csv": REC_HEADER + "u1,i1,5,1\n"}, "u.csv", "nosuch", ("user_col=nosuch",)),
    "ratings-not-numbers": ({"r.csv": REC_HEADER + "".join(f"u{i},i{j},good,1\n" for i in range(6) for j in range(6))},
                            "r.csv", "r.csv", ()),
    "folder-without-ratings": ({"f/readme.txt": "hello"}, "f", "f", ()),
    "u-data-garbage": ({"ml/u.data": GARBAGE}, "ml", "u.data", ()),
}

KAGGLE_TRAIN = "id,x1,x2,y\n" + "".join(f"{i},{i % 7},{i % 3},{i % 2}\n" for i in range(40))
KAGGLE_TEST = "id,x1,x2\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(40, 50))
KAGGLE_DATA = {
    "missing": ({}, "nowhere", "nowhere", ()),
    "empty-folder": ({"empty": None}, "empty", "empty", ()),
    "only-test-csv": ({"c/test.csv": KAGGLE_TEST}, "c", "train.csv", ()),
    "empty-train": ({"c/train.csv": "", "c/test.csv": KAGGLE_TEST}, "c", "train.csv", ()),
    "garbage-train": ({"c/train.csv": GARBAGE, "c/test.csv": KAGGLE_TEST}, "c", "train.csv", ()),
    "latin-1-train": ({"c/train.csv": KAGGLE_TRAIN.replace("1,", "caf\xe9,", 1).encode("latin-1"),
                       "c/test.csv": KAGGLE_TEST}, "c", "train.csv", ()),
    "no-target": ({"c/train.csv": KAGGLE_TRAIN, "c/test.csv": KAGGLE_TEST}, "c", "nosuch", ("target=nosuch",)),
    "test-other-columns": ({"c/train.csv": KAGGLE_TRAIN, "c/test.csv": KAGGLE_TEST.replace("x2", "z9", 1)}, "c",
                           "test.csv", ("target=y",)),
    "single-csv-no-target": ({"t.csv": KAGGLE_TRAIN}, "t.csv", "target", ()),
    "header-only": ({"t.csv": "id,x1,x2,y\n"}, "t.csv", "t.csv", ("target=y",)),
    "sample-wrong-id": ({"c/train.csv": KAGGLE_TRAIN, "c/test.csv": KAGGLE_TEST,
                         "c/sample_submission.csv": "nope,y\n1,0\n"}, "c", "sample_submission.csv", ()),
}

LLM_DATA = {name: spec for name, spec in TABLE_DATA.items()
            if name in ("missing", "empty-csv", "binary-garbage", "wrong-columns", "one-class", "utf-16")}
LLM_GENERATE = {
    "generate-empty-txt": ({"e.txt": ""}, "e.txt", "e.txt", ("mode=generate",)),
    "generate-binary-txt": ({"g.txt": GARBAGE}, "g.txt", "g.txt", ("mode=generate",)),
    "generate-jsonl-no-prompt": ({"p.jsonl": '{"question": "a", "answer": "b"}\n'}, "p.jsonl", "p.jsonl",
                                 ("mode=generate",)),
    "generate-jsonl-garbage": ({"p.jsonl": "{oops\n"}, "p.jsonl", "p.jsonl", ("mode=generate",)),
}

DATA = {"text": TABLE_DATA, "image": IMAGE_DATA, "speech": SPEECH_DATA, "rl": RL_DATA, "recommender": REC_DATA,
        "kaggle": KAGGLE_DATA, "llm": {**LLM_DATA, **LLM_GENERATE}}


# --- evaluate --data and predict inputs each plugin must refuse ------------------------------------------

EVAL_DATA = {"text": ("missing", "binary-garbage", "wrong-columns", "empty-csv"),
             "llm": ("missing", "binary-garbage", "wrong-columns"),
             "image": ("missing", "garbage-pngs", "csv-wrong-columns"),
             "speech": ("missing", "garbage-wavs", "empty-folder"),
             "rl": ("unknown-env", "module-prefix"),
             "recommender": ("missing", "binary-garbage", "wrong-columns"),
             "kaggle": ("missing", "garbage-train", "empty-folder")}
EVAL_OTHER = {  # data of the right format that does not fit the trained model
    "rl": ("other-spaces", {}, "Acrobot-v1", "Acrobot-v1"),
    "kaggle": ("other-competition", {"c/train.csv": KAGGLE_TRAIN, "c/test.csv": KAGGLE_TEST}, "c", "train.csv"),
    "recommender": ("other-columns", {"o.csv": "a,b,c,d\n" + "1,2,3,4\n" * 20}, "o.csv", "o.csv"),
}

PREDICT_BAD = {  # task: [(name, extra inputs or None for the valid ones, sets, fragment)]
    "text": [("top-k-zero", None, ("top_k=0",), "top_k"), ("top-k-text", None, ("top_k=abc",), "top_k"),
             ("unknown-option", None, ("topk=2",), "topk")],
    "image": [("top-k-zero", None, ("top_k=0",), "top_k"), ("missing-file", ["nowhere.png"], (), "nowhere.png"),
              ("garbage-file", "garbage.png", (), "garbage.png"), ("wrong-suffix", "notes.txt", (), "notes.txt")],
    "speech": [("top-k-zero", None, ("top_k=0",), "top_k"), ("min-confidence-2", None, ("min_confidence=2",),
                                                               "min_confidence"),
               ("window-pick-bogus", None, ("window_pick=bogus",), "window_pick"),
               ("missing-file", ["nowhere.wav"], (), "nowhere.wav"), ("garbage-file", "garbage.wav", (), "garbage.wav"),
               ("wrong-suffix", "notes.txt", (), "notes.txt")],
    "rl": [("episodes-zero", [], ("episodes=0",), "episodes"), ("seed-negative", [], ("seed=-1",), "seed"),
           ("record-video", [], ("episodes=1", "record=video"), "record"),
           ("max-frames-zero", [], ("episodes=1", "max_frames=0"), "max_frames"),
           ("deterministic-maybe", [], ("episodes=1", "deterministic=maybe"), "deterministic"),
           ("input-not-a-seed", ["abc"], (), "abc"), ("unknown-option", [], ("episdes=1",), "episdes")],
    "llm": [("variant-bogus", None, ("variant=bogus",), "bogus"), ("variant-off", None, ("variant=distilled",),
                                                                    "distilled")],
    "kaggle": [("missing-csv", ["nowhere.csv"], (), "nowhere.csv"), ("garbage-csv", "garbage.csv", (), "garbage.csv"),
               ("other-columns", "other.csv", (), "other.csv"), ("unknown-option", None, ("top_k=2",), "top_k")],
    "recommender": [("k-zero", None, ("k=0",), "option k"), ("k-text", None, ("k=abc",), "option 'k'"),
                    ("similar-to-unknown", [], ("similar_to=nosuch-item",), "nosuch-item"),
                    ("filter-seen-maybe", None, ("filter_seen=maybe",), "filter_seen")],
}
