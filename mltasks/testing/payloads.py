"""Planting code-running payloads in a run directory, to show that opening it runs nothing.

A run directory may come from anyone. For a plugin's tests::

    from mltasks.testing.payloads import assert_refuses_payloads

    def test_planted_payloads_are_refused(tmp_path):
        run = mltasks.run("mytask", out=tmp_path / "run", quick=True).run_dir
        assert_refuses_payloads(run, ["an input"], tmp_path / "planted")

For each file of ``RUN/model``, a copy of the run gets that file replaced by a pickle whose
unpickling creates a marker file (and, separately, the file removed; with
``ways=WAYS``, also cut short, replaced by a code payload in its own format — a skops file that
would build ``numpy.memmap`` over a victim file, a Hugging Face ``config.json`` whose ``auto_map``
names planted code, a JSON file nested 100,000 deep — and, for one file of the run, a symlink
pointing out of the run); ``mltasks evaluate``, ``mltasks predict`` and
:func:`mltasks.load_run` must refuse the copy (exit 2 / an
:class:`~mltasks.errors.MltasksError` naming the file), the marker must never appear and the
victim file never change.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: The ways :func:`assert_refuses_payloads` can damage a model file.
WAYS = ("planted", "missing", "truncated", "code", "symlinked")
#: Depth of the nested JSON the ``"code"`` way plants in a JSON file.
DEEP = 100_000


class _CreatesFile:
    """Unpickles into ``open(path, "w")``: harmless, but proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def pickle_payload(marker: str | Path) -> bytes:
    """Pickle bytes that create the file ``marker`` when unpickled (and do nothing else)."""
    return pickle.dumps(_CreatesFile(str(marker)))


def model_files(run_dir: str | Path) -> list[Path]:
    """Every file under ``run_dir/model``, relative to ``run_dir``."""
    run_dir = Path(run_dir)
    return sorted(p.relative_to(run_dir) for p in (run_dir / "model").rglob("*") if p.is_file())


def _names(message: str, relative: Path, folder: bool = True) -> bool:
    """Whether an error names the bad file (or, with ``folder``, the folder it sits in, below
    ``model/``)."""
    if relative.name in message:
        return True
    return folder and relative.parent.name != "model" and relative.parent.name in message


def _memmap_skops(victim: Path) -> bytes:
    """A skops file whose root, loaded by a trusting reader, is ``numpy.memmap(victim, "uint8", "w+", 0, (8,))``:
    it would zero-fill (or create) ``victim``."""
    import io
    import zipfile

    def node(value: Any, n: int) -> dict[str, Any]:
        kind = type(value).__name__
        return {"__class__": kind, "__module__": "builtins", "__loader__": "JsonNode",
                "content": json.dumps(value), "is_json": True, "__id__": n}

    args = [str(victim), "uint8", "w+", 0]
    content = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "__id__": 2,
               "content": [node(a, 10 + i) for i, a in enumerate(args)]}
    schema = {"__class__": "memmap", "__module__": "numpy", "__loader__": "ConstructorFromReduceNode",
              "__id__": 1, "protocol": 2, "_skops_version": "0.10", "content": content}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


#: What transformers prints when it asks to run a folder's code; none of it may reach the user.
HF_PROMPTS = ("[y/N]", "custom code?", "trust_remote_code")
_AUTO_CLASSES = ("AutoConfig", "AutoModel", "AutoModelForCausalLM")


def plant_custom_code(folder: str | Path, marker: str | Path, *, tokenizer: bool = False) -> Path:
    """Make the Hugging Face ``folder`` ask for a planted module that writes ``marker`` when imported:
    an ``auto_map`` and an unknown ``model_type`` (transformers, left to itself, would ask "run the
    custom code? [y/N]"). Returns the file that now asks for it (``tokenizer_config.json`` with
    ``tokenizer``, else ``config.json``)."""
    folder = Path(folder)
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('the planted code ran')\n"
    if tokenizer:
        (folder / "tokenization_evil.py").write_text(code)
        path = folder / "tokenizer_config.json"
        config = json.loads(path.read_text()) if path.is_file() else {}
        config.update(tokenizer_class="EvilTokenizer",
                      auto_map={"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]})
    else:
        (folder / "modeling_evil.py").write_text(code)
        path = folder / "config.json"
        config = json.loads(path.read_text())
        config.update(model_type="evil-net", auto_map={name: f"modeling_evil.Evil{name[4:]}" for name in _AUTO_CLASSES})
    path.write_text(json.dumps(config))
    return path


def plant_code(path: str | Path, marker: str | Path, victim: str | Path) -> bool:
    """Replace ``path`` by code in its own format, as an attacker would: a ``.skops`` file that
    builds ``numpy.memmap`` over ``victim``; a Hugging Face ``config.json`` whose ``auto_map``
    points at a planted module that creates ``marker``; any other ``.json`` nested :data:`DEEP`
    levels deep. False (nothing planted) for other formats."""
    path, marker = Path(path), Path(marker)
    if path.suffix == ".skops":
        path.write_bytes(_memmap_skops(Path(victim)))
        return True
    if path.suffix != ".json":
        return False
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    if isinstance(config, dict) and "model_type" in config:
        plant_custom_code(path.parent, marker, tokenizer=path.name == "tokenizer_config.json")
        return True
    path.write_text("[" * DEEP + "]" * DEEP, encoding="utf-8")
    return True


def damage(path: str | Path, how: str, marker: str | Path, victim: str | Path | None = None) -> bool:
    """Damage one file the way ``how`` (one of :data:`WAYS`) names: ``"planted"`` replaces it by
    :func:`pickle_payload` of ``marker``, ``"missing"`` removes it, ``"truncated"`` cuts it to a
    third of its size (at least one byte), ``"code"`` is :func:`plant_code`, ``"symlinked"`` moves
    it beside ``marker`` (out of the run) and leaves a symlink to it. False when ``how`` does not
    apply to this file (``"code"`` on a format with no code payload)."""
    path = Path(path)
    if how == "code":
        return plant_code(path, marker, victim if victim is not None else Path(marker).with_name("VICTIM"))
    if how == "symlinked":
        outside = Path(marker).parent / f"outside-{path.name}"
        outside.unlink(missing_ok=True)
        path.rename(outside)
        path.symlink_to(outside)
        return True
    if how == "planted":
        path.write_bytes(pickle_payload(marker))
    elif how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    else:
        raise ValueError(f"unknown way {how!r} to damage a model file; one of {', '.join(WAYS)}")
    return True


def _refused(cli_args: Sequence[str], relative: Path, folder: bool = True, tolerated: bool = False) -> str | None:
    """Why ``mltasks ARGS`` did not refuse the planted file as it should, or None (for a
    ``tolerated`` file: why it did not either refuse it or do without it, cleanly)."""
    from click.testing import CliRunner

    from mltasks.cli import cli

    result = CliRunner().invoke(cli, list(cli_args))
    if tolerated:
        if result.exit_code not in (0, 2) or "Traceback" in result.output:
            return f"mltasks {cli_args[0]} exited {result.exit_code}: {result.output.strip()[-300:]!r}"
        return None
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    if result.exit_code != 2 or len(errors) != 1 or "Traceback" in result.output:
        return f"mltasks {cli_args[0]} exited {result.exit_code}: {result.output.strip()[-300:]!r}"
    if not _names(errors[0], relative, folder):
        return f"mltasks {cli_args[0]}: the error does not name {relative}: {errors[0]!r}"
    return None


def _load_run_refused(run_dir: Path, relative: Path, folder: bool = True, tolerated: bool = False) -> str | None:
    from mltasks.errors import MltasksError
    from mltasks.finished import load_run

    try:
        load_run(run_dir)
    except MltasksError as exc:
        if not tolerated and not _names(str(exc), relative, folder):
            return f"load_run: the error does not name {relative}: {exc}"
        return None
    except Exception as exc:
        return f"load_run raised {type(exc).__name__}: {exc} (expected a DataError naming the file)"
    return None if tolerated else "load_run accepted the planted file"


def assert_refuses_payloads(
    run_dir: str | Path,
    inputs: Iterable[str] = (),
    work_dir: str | Path | None = None,
    *,
    optional: Iterable[str] = (),
    ways: Iterable[str] = ("planted", "missing"),
    tolerated: Iterable[str] = (),
    name_folder: bool = True,
) -> int:
    """Plant a payload in, and separately remove, each model file of a finished run, one at
    a time, and assert that ``evaluate``, ``predict`` and ``load_run`` refuse it.

    :param run_dir: a finished run directory (it is copied, never changed).
    :param inputs: what ``mltasks predict`` gets (nothing for tasks whose input kind is "none").
    :param work_dir: where the copies go (default: beside ``run_dir``).
    :param optional: model files (paths relative to ``model/``) the task may do without;
        they are not removed, only planted.
    :param ways: how each file is damaged, one copy per way: ``"planted"`` (the payload),
        ``"missing"`` (removed), ``"truncated"`` (cut to a third of its size), ``"code"`` (a
        payload in the file's own format, where there is one) and ``"symlinked"`` (a symlink out
        of the run; tried on the first file only); see :data:`WAYS`.
    :param tolerated: model files (paths relative to ``model/``, or bare file names, matched in
        any folder) the loaders may read or ignore: every way is tried, and each command must
        either refuse the copy or accept it (exit 0 or 2, no traceback; ``load_run`` succeeds or
        raises an :class:`~mltasks.errors.MltasksError`) -- the payload must still never run.
    :param name_folder: whether an error naming the folder a file sits in (below ``model/``)
        counts as naming the file; ``False`` asks for the file's own name.
    :returns: how many bad run directories were tried.
    :raises AssertionError: listing every command that did not refuse, or a payload that ran.
    """
    run_dir = Path(run_dir)
    work = Path(work_dir) if work_dir is not None else run_dir.parent / f"{run_dir.name}-planted"
    work.mkdir(parents=True, exist_ok=True)
    marker = work / "PAYLOAD-RAN"
    victim = work / "VICTIM"
    victim.write_text("the user's file")
    failures: list[str] = []
    may_lack = set(optional)
    may_ignore = set(tolerated)
    ways = tuple(ways)
    unknown = sorted(set(ways) - set(WAYS))
    if unknown or not ways:
        raise ValueError(f"ways={ways!r}: give one or more of {', '.join(WAYS)}")
    inputs = list(inputs)
    tried = 0
    for n, relative in enumerate(model_files(run_dir)):
        inside = relative.relative_to("model").as_posix()
        optional_file = inside in may_lack
        ignorable = inside in may_ignore or relative.name in may_ignore
        for how in ways:
            if (how == "missing" and optional_file) or (how == "symlinked" and n > 0):
                continue
            copy = work / f"run-{n}-{how}"
            shutil.copytree(run_dir, copy, symlinks=True)
            if not damage(copy / relative, how, marker, victim):
                shutil.rmtree(copy)
                continue
            tried += 1
            for why in (_refused(["evaluate", str(copy)], relative, name_folder, ignorable),
                        _refused(["predict", str(copy), *inputs], relative, name_folder, ignorable),
                        _load_run_refused(copy, relative, name_folder, ignorable)):
                if why:
                    failures.append(f"{relative} {how}: {why}")
            if marker.exists():
                failures.append(f"{relative} {how}: THE PAYLOAD RAN")
                marker.unlink()
            if victim.read_text() != "the user's file":
                failures.append(f"{relative} {how}: A FILE OUTSIDE THE RUN WAS WRITTEN")
                victim.write_text("the user's file")
    assert tried, f"{run_dir / 'model'} holds no files"
    assert not failures, "a bad model file was not refused:\n" + "\n".join(failures)
    return tried
