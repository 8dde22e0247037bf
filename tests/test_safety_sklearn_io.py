"""mltasks.sklearn_io: scikit-learn models round-trip through skops, and every planted,
unlisted, damaged or missing file is a DataError naming it, without running or importing anything."""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mltasks import sklearn_io
from mltasks.errors import DataError
from mltasks.testing.payloads import pickle_payload
from mltasks.testing.unpickling import forbid_unpickling

skops_io = pytest.importorskip("skops.io")
pytest.importorskip("sklearn")


@pytest.fixture
def fitted():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["good fine great", "bad awful poor", "great good", "poor bad"] * 5
    labels = [1, 0, 1, 0] * 5
    text_model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    rng = np.random.default_rng(0)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(rng.normal(size=(20, 3)), labels)
    return text_model, forest, texts


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PAYLOAD-RAN"
    yield path
    assert not path.exists(), "a planted payload ran"


TEXT_TYPES = frozenset({"sklearn.pipeline.Pipeline", "sklearn.feature_extraction.text.TfidfVectorizer",
                        "sklearn.feature_extraction.text.TfidfTransformer",
                        "sklearn.linear_model._logistic.LogisticRegression"})
FOREST_TYPES = frozenset({"sklearn.ensemble._forest.RandomForestClassifier",
                          "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree"})


def _refused(path, fragment, types=TEXT_TYPES | FOREST_TYPES):
    with pytest.raises(DataError) as info:
        sklearn_io.load(path, types)
    message = str(info.value)
    assert str(path) in message, message
    assert fragment in message, message
    return message


def test_round_trip_without_pickle(tmp_path, fitted):
    text_model, forest, texts = fitted
    sklearn_io.save(text_model, tmp_path / "text.skops", TEXT_TYPES)
    sklearn_io.save(forest, tmp_path / "forest.skops", FOREST_TYPES)
    assert sklearn_io.schema_types(tmp_path / "forest.skops") - sklearn_io.DATA_TYPES == set(FOREST_TYPES)
    assert not list(tmp_path.glob("*.json"))  # the allow-list is the caller's code, nothing beside the file
    with forbid_unpickling() as calls:
        text_again = sklearn_io.load(tmp_path / "text.skops", TEXT_TYPES)
        forest_again = sklearn_io.load(tmp_path / "forest.skops", FOREST_TYPES)
    assert calls == []
    assert (text_again.predict_proba(texts) == text_model.predict_proba(texts)).all()
    x = np.ones((2, 3))
    assert (forest_again.predict_proba(x) == forest.predict_proba(x)).all()


def test_a_type_outside_the_callers_list_is_refused_at_save_and_at_load(tmp_path, fitted):
    with pytest.raises(TypeError, match="RandomForestClassifier, not one this model may hold"):
        sklearn_io.save(fitted[1], tmp_path / "forest.skops", TEXT_TYPES)
    assert not (tmp_path / "forest.skops").exists()
    path = sklearn_io.save(fitted[1], tmp_path / "forest.skops", FOREST_TYPES)
    _refused(path, "type sklearn.tree._tree.Tree, not one this model may hold",
             types=FOREST_TYPES - {"sklearn.tree._tree.Tree"})


def test_a_planted_pickle_is_refused(tmp_path, fitted, marker):
    path = sklearn_io.save(fitted[0], tmp_path / "pipeline.skops", TEXT_TYPES)
    path.write_bytes(pickle_payload(marker))  # a pickle renamed to the model file
    _refused(path, "not a readable skops model file")


def _skops_file(path: Path, schema: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    return path


def _constructor(cls: str, module: str, args: tuple) -> dict:
    """A schema whose root calls ``module.cls(*args)`` when skops loads it (ConstructorFromReduceNode)."""
    content = json.loads(zipfile.ZipFile(io.BytesIO(skops_io.dumps(args))).read("schema.json"))
    version = {k: content.pop(k) for k in ("protocol", "_skops_version")}
    return {"__class__": cls, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": content, "__id__": 1, **version}


@pytest.mark.parametrize("cls, module, args", [
    ("memmap", "numpy", ("{target}", "uint8", "w+", 0, (8,))),  # creates or zero-fills any file
    ("FortranFile", "scipy.io", ("{target}", "w")),  # truncates any file
    ("load", "numpy", ("{pickle}", None, True)),  # unpickles any file
], ids=["numpy.memmap", "scipy.io.FortranFile", "numpy.load"])
def test_objects_built_from_saved_arguments_are_refused(tmp_path, marker, cls, module, args):
    target = tmp_path / "victim.txt"
    target.write_text("the user's file")
    payload = tmp_path / "payload.npy"
    payload.write_bytes(pickle_payload(marker))
    args = tuple(str(target) if a == "{target}" else str(payload) if a == "{pickle}" else a for a in args)
    path = _skops_file(tmp_path / "model.skops", _constructor(cls, module, args))
    # even a caller that listed the name gets no constructor call: the node kind is refused
    _refused(path, f"a ConstructorFromReduceNode for {module}.{cls}", types=TEXT_TYPES | {f"{module}.{cls}"})
    assert target.read_text() == "the user's file"
    assert not marker.exists()
    skops_io.load(path, trusted=[f"{module}.{cls}"])  # the control: raw skops runs this file
    assert target.read_bytes() != b"the user's file" or marker.exists()
    marker.unlink(missing_ok=True)


def test_a_name_is_never_imported_while_it_is_checked(tmp_path):
    """A type under ``numpy.f2py.__main__`` used to start numpy's f2py tool during the type check."""
    schema = {"__class__": "Thing", "__module__": "numpy.f2py.__main__", "__loader__": "ObjectNode",
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                          "__id__": 2}, "__id__": 1, "protocol": 2, "_skops_version": "0.10"}
    path = _skops_file(tmp_path / "model.skops", schema)
    code = ("import sys; from mltasks import sklearn_io; from mltasks.errors import DataError\n"
            f"try:\n    sklearn_io.load({str(path)!r}, {sorted(TEXT_TYPES)!r})\n"
            "except DataError as exc:\n    print('REFUSED', exc)\n"
            "print('IMPORTED' if any(m.startswith('numpy.f2py') for m in sys.modules) else 'CLEAN')")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "REFUSED" in done.stdout and "numpy.f2py.__main__.Thing" in done.stdout, done.stdout + done.stderr
    assert done.stdout.strip().endswith("CLEAN"), done.stdout


def test_partials_and_functions_not_listed_are_refused(tmp_path, marker):
    path = tmp_path / "partial.skops"
    skops_io.dump(functools.partial(os.system, f"touch {marker}"), path)
    _refused(path, "a PartialNode for functools.partial")
    path = tmp_path / "function.skops"
    skops_io.dump({"f": os.system}, path)
    message = _refused(path, "not one this model may hold")
    assert "system" in message


def test_a_class_the_caller_did_not_list_is_refused(tmp_path):
    from argparse import Namespace
    from fractions import Fraction

    path = tmp_path / "namespace.skops"
    skops_io.dump({"options": Namespace(a=1)}, path)
    _refused(path, "type argparse.Namespace, not one this model may hold")
    skops_io.dump({"ratio": Fraction(1, 3)}, path)  # built by calling the class: refused whatever its name
    _refused(path, "a ConstructorFromReduceNode for fractions.Fraction")


def test_the_callers_own_classes_load_when_listed(tmp_path, monkeypatch):
    plugin = tmp_path / "site" / "mltasks_fakeplugin"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n\n"
        "class Doubler(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, x, y=None):\n        self.fitted_ = True\n        return self\n\n"
        "    def transform(self, x):\n        return x * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "mltasks_fakeplugin", raising=False)
    from mltasks_fakeplugin import Doubler

    with pytest.raises(TypeError, match="mltasks_fakeplugin.Doubler, not one"):
        sklearn_io.save(Doubler().fit(None), tmp_path / "refused.skops", TEXT_TYPES)
    assert not (tmp_path / "refused.skops").exists()
    path = sklearn_io.save(Doubler().fit(None), tmp_path / "doubler.skops", {"mltasks_fakeplugin.Doubler"})
    _refused(path, "type mltasks_fakeplugin.Doubler, not one")
    loaded = sklearn_io.load(path, {"mltasks_fakeplugin.Doubler"})
    assert loaded.transform(np.ones(2)).tolist() == [2.0, 2.0]


def test_truncated_missing_symlinked_and_corrupt_files(tmp_path, fitted):
    path = sklearn_io.save(fitted[0], tmp_path / "pipeline.skops", TEXT_TYPES)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "not a readable skops model file")
    path.write_bytes(b"")
    _refused(path, "not a readable skops model file")
    path.unlink()
    _refused(path, "missing")
    (tmp_path / "folder.skops").mkdir()
    _refused(tmp_path / "folder.skops", "not a regular file")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "real.skops").write_bytes(data)
    run = tmp_path / "run"
    run.mkdir()
    (run / "pipeline.skops").symlink_to(outside / "real.skops")
    _refused(run / "pipeline.skops", "points outside")


def test_a_schema_that_is_not_json_or_nested_too_deep_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", pickle.dumps({"a": 1}))
    _refused(path, "not a UTF-8 JSON file")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", "[" * 200_000 + "]" * 200_000)
    _refused(path, "nested 200000 levels deep")


def test_loading_a_model_does_not_import_torch(tmp_path, fitted):
    """skops walks every scikit-learn package, one of which would load torch (seconds of start-up
    for ``predict`` and ``serve``); a model file never needs it."""
    import subprocess

    text_model, _, texts = fitted
    path = sklearn_io.save(text_model, tmp_path / "model.skops", TEXT_TYPES)
    code = ("import sys; from mltasks import sklearn_io; "
            f"m = sklearn_io.load({str(path)!r}, {sorted(TEXT_TYPES)!r}); "
            f"print(m.predict({texts[:2]!r}).tolist(), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[1,", "0]", "False"]
