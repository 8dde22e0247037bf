"""A plugin's ``weights.json``: the pretrained files its tasks may load, found without importing
the package that ships them."""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltasks.errors import MissingDependencyError, PluginLoadError
from mltasks.weights.identity import Identity, combined_sha256

#: The manifest a plugin ships beside its config module.
MANIFEST = "weights.json"


@dataclass(frozen=True)
class WeightsFile:
    """One file of a weights folder: ``path`` relative to the folder ("/"-separated)."""

    path: str
    sha256: str
    size: int


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
        from mltasks.weights.files import verify

        return verify(self, folder)

    def file_names(self) -> list[str]:
        """The relative paths of the files."""
        return [f.path for f in self.files]


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
