"""Conformance check for tasks that declare pretrained weights (:mod:`mltasks.weights`): the saved
model records the weights it was trained with, and ``load`` refuses a model recorded with others."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mltasks.errors import DataError
from mltasks.task import Task
from mltasks.testing import state
from mltasks.testing.checks import check


@check
def check_pretrained_weights_recorded(task: Task) -> None:
    """A task that declares pretrained weights (``weights.json``, :mod:`mltasks.weights`) records in
    its saved model the identities of those it was trained with, and ``load`` refuses (DataError)
    a model recorded with other weights whenever it reads the installed ones."""
    from mltasks import weights

    declared = {w.name: w.identity for w in weights.declared(type(task).Config.__module__)}
    if not declared:
        return
    model_dir = state.get(task).model_dir()
    if not (model_dir / weights.RECORD).exists():
        with _weights_reads() as reads:
            state.get(task).cls.load(model_dir)
        assert not reads, (f"load reads installed pretrained weights ({', '.join(reads)}) but save recorded none: "
                           f"call mltasks.weights.record(directory, [identity]) in save")
        return
    recorded = weights.read_record(model_dir)
    assert recorded, f"{weights.RECORD} lists no weights; record only when pretrained weights were used"
    for ident in recorded:
        if ident.name in declared:
            assert ident == declared[ident.name], f"recorded {ident}, but weights.json declares {declared[ident.name]}"
    other = _linked_copy(model_dir, state.scratch_dir("other-weights") / "model")
    (other / weights.RECORD).unlink()  # a hard link: never write through it
    weights.record(other, [weights.Identity(i.name, i.version, "0" * 64) for i in recorded])
    with _weights_reads() as reads:
        try:
            state.get(task).cls.load(other)
        except DataError as exc:
            assert weights.RECORD in str(exc), f"the DataError should name {weights.RECORD}: got {exc!r}"
            return
    assert not reads, (f"load accepted a model recorded with other weights than the installed ones it read "
                       f"({', '.join(reads)}): call mltasks.weights.require(directory, identity) in load")


@contextmanager
def _weights_reads() -> Iterator[list[str]]:
    """Names of the installed or local weights looked up (verified or hashed) inside the block."""
    from mltasks import weights
    from mltasks.weights import files  # Weights.verify calls files.verify; plugins may call either

    reads: list[str] = []
    verify, local = files.verify, files.local_identity

    def counted_verify(entry: Any, folder: Any = None) -> Path:
        reads.append(entry.name)
        return verify(entry, folder)

    def counted_local(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(path))
        return local(path, *args, **kwargs)

    modules: tuple[Any, ...] = (weights, files)
    for module in modules:
        module.verify, module.local_identity = counted_verify, counted_local
    try:
        yield reads
    finally:
        for module in modules:
            module.verify, module.local_identity = verify, local


def _linked_copy(source: Path, target: Path) -> Path:
    """A copy of a folder whose files are hard links where possible (fast for large weights)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)
    return target
