"""mltasks.sklearn_io: scikit-learn models round-trip through skops, and every planted,
untrusted, damaged or missing file is a DataError naming it, without running anything."""

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


def _refused(path, fragment, **kwargs):
    with pytest.raises(DataError) as info:
        sklearn_io.load(path, **kwargs)
    message = str(info.value)
    assert str(path) in message or str(sklearn_io.types_path(path)) in message, message
    assert fragment in message, message
    return message


def test_round_trip_without_pickle(tmp_path, fitted):
    text_model, forest, texts = fitted
    sklearn_io.save(text_model, tmp_path / "text.skops")
    sklearn_io.save(forest, tmp_path / "forest.skops")
    assert json.loads((tmp_path / "forest.skops.types.json").read_text())["trusted_types"] == [
        "sklearn.tree._tree.Tree"
    ]
    with forbid_unpickling() as calls:
        text_again = sklearn_io.load(tmp_path / "text.skops")
        forest_again = sklearn_io.load(tmp_path / "forest.skops")
    assert calls == []
    assert (text_again.predict_proba(texts) == text_model.predict_proba(texts)).all()
    x = np.ones((2, 3))
    assert (forest_again.predict_proba(x) == forest.predict_proba(x)).all()


def test_a_planted_pickle_is_refused(tmp_path, fitted, marker):
    path = sklearn_io.save(fitted[0], tmp_path / "pipeline.skops")
    path.write_bytes(pickle_payload(marker))  # a pickle renamed to the model file
    _refused(path, "not a readable skops model file")


def test_a_planted_joblib_file_name_is_refused(tmp_path, marker):
    path = tmp_path / "pipeline.joblib"
    path.write_bytes(pickle_payload(marker))
    sklearn_io.types_path(path).write_text('{"trusted_types": []}')
    _refused(path, "not a readable skops model file")


def _skops_file(path: Path, schema: dict, types: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    sklearn_io.types_path(path).write_text(json.dumps({"trusted_types": types}))  # the attacker writes it too
    return path


def test_untrusted_types_are_refused_even_when_listed(tmp_path, marker):
    payload = functools.partial(os.system, f"touch {marker}")
    path = tmp_path / "partial.skops"
    skops_io.dump(payload, path)
    found = skops_io.get_untrusted_types(file=path)
    sklearn_io.types_path(path).write_text(json.dumps({"trusted_types": found}))
    message = _refused(path, "refusing to load type")
    assert "functools.partial" in message or "system" in message


def test_a_class_from_an_unlisted_module_is_refused(tmp_path):
    from fractions import Fraction

    path = tmp_path / "fraction.skops"
    skops_io.dump({"ratio": Fraction(1, 3)}, path)
    sklearn_io.types_path(path).write_text(json.dumps({"trusted_types": ["fractions.Fraction"]}))
    _refused(path, "refusing to load type fractions.Fraction (outside the trusted modules (sklearn, numpy, scipy))")


def test_a_function_of_a_trusted_package_is_refused(tmp_path, marker):
    # skops calls a "constructor" with the arguments it reads: numpy.load(path, None, True)
    # would unpickle any file. Raw skops, told to trust what the file lists, runs it.
    payload = tmp_path / "payload.npy"
    payload.write_bytes(pickle_payload(marker))
    args = json.loads(zipfile.ZipFile(io.BytesIO(skops_io.dumps((str(payload), None, True)))).read("schema.json"))
    version = {k: args.pop(k) for k in ("protocol", "_skops_version")}
    schema = {"__class__": "load", "__module__": "numpy", "__loader__": "ConstructorFromReduceNode",
              "content": args, "__id__": 1, **version}
    path = _skops_file(tmp_path / "model.skops", schema, ["numpy.load"])
    _refused(path, "refusing to load type numpy.load (a function, not a class)")
    assert not marker.exists()
    skops_io.load(path, trusted=["numpy.load"])  # the control: this file is a live payload
    assert marker.exists()
    marker.unlink()


def test_a_trusted_type_missing_from_the_saved_list_is_refused(tmp_path, fitted):
    path = sklearn_io.save(fitted[1], tmp_path / "forest.skops")
    sklearn_io.types_path(path).write_text('{"format": "skops", "trusted_types": []}')
    _refused(path, "refusing to load type sklearn.tree._tree.Tree (not in forest.skops.types.json)")


def test_the_callers_own_prefix_must_be_given(tmp_path, monkeypatch):
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

    with pytest.raises(TypeError, match="mltasks_fakeplugin.Doubler .outside the trusted modules"):
        sklearn_io.save(Doubler().fit(None), tmp_path / "refused.skops")
    assert not (tmp_path / "refused.skops").exists()
    path = sklearn_io.save(Doubler().fit(None), tmp_path / "doubler.skops", allowed_prefixes=("mltasks_fakeplugin",))
    _refused(path, "refusing to load type mltasks_fakeplugin.Doubler (outside the trusted modules")
    loaded = sklearn_io.load(path, allowed_prefixes=("mltasks_fakeplugin.",))
    assert loaded.transform(np.ones(2)).tolist() == [2.0, 2.0]


def test_truncated_missing_and_corrupt_files(tmp_path, fitted):
    path = sklearn_io.save(fitted[0], tmp_path / "pipeline.skops")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "not a readable skops model file")
    path.write_bytes(b"")
    _refused(path, "not a readable skops model file")
    path.write_bytes(data)
    sklearn_io.types_path(path).write_bytes(b"\x80\x04junk")
    _refused(path, "not a trusted-type list")
    sklearn_io.types_path(path).write_text('{"trusted_types": "sklearn.Pipeline"}')
    _refused(path, "expected a list of type names")
    sklearn_io.types_path(path).unlink()
    _refused(path, "missing (the trusted-type list of pipeline.skops)")
    path.unlink()
    _refused(path, "model file missing")
    (tmp_path / "folder.skops").mkdir()
    _refused(tmp_path / "folder.skops", "model file missing")


def test_a_schema_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", pickle.dumps({"a": 1}))
    sklearn_io.types_path(path).write_text('{"trusted_types": []}')
    _refused(path, "not a readable skops model file")


def test_refusal_rules():
    assert sklearn_io.refusal("sklearn.tree._tree.Tree") is None
    assert sklearn_io.refusal("numpy.dtype") is None
    assert sklearn_io.refusal("numpy.log1p") is None  # a ufunc: arithmetic only
    assert sklearn_io.refusal("builtins.slice") is None
    assert sklearn_io.refusal("numpy.load") == "a function, not a class"
    assert sklearn_io.refusal("sklearn.no_such_thing.X") == "not found"
    assert sklearn_io.refusal("builtins.eval").startswith("outside the trusted modules")
    assert sklearn_io.refusal("sklearnevil.X").startswith("outside the trusted modules")
    assert sklearn_io.refusal("numpy.lib.format.pickle") is not None  # a module a trusted module imports


def test_loading_a_model_does_not_import_torch(tmp_path, fitted):
    """skops walks every scikit-learn package, one of which would load torch (seconds of start-up
    for ``predict`` and ``serve``); a model file never needs it."""
    import subprocess

    text_model, _, texts = fitted
    path = sklearn_io.save(text_model, tmp_path / "model.skops")
    code = ("import sys; from mltasks import sklearn_io; "
            f"m = sklearn_io.load({str(path)!r}); "
            f"print(m.predict({texts[:2]!r}).tolist(), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[1,", "0]", "False"]
