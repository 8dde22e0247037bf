"""Importing ``skops.io`` without the torch import its package scan would trigger."""

from __future__ import annotations

from typing import Any

from mltasks.errors import MissingDependencyError

#: imported by ``import skops.io`` only because it walks every scikit-learn package; they load
#: torch (seconds) when it is installed, though no scikit-learn model file needs it
_WALKED_ONLY = ("sklearn.externals.array_api_compat.torch",)


class _SkipWalkedOnly:
    """A meta-path finder that makes the modules of :data:`_WALKED_ONLY` unimportable for a
    moment; ``pkgutil.walk_packages`` (inside skops's trusted-type scan) skips what fails to import."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        """Refuse the walked-only modules; leave every other import to the next finder."""
        if name.startswith(_WALKED_ONLY):
            raise ImportError(f"{name} is not needed to read or write scikit-learn models")


def skops_io() -> Any:
    """``skops.io``, imported with the walked-only modules hidden (unless torch is loaded anyway)."""
    import sys

    skip = None if "torch" in sys.modules else _SkipWalkedOnly()  # torch loaded anyway: nothing to save
    if skip is not None:
        sys.meta_path.insert(0, skip)
    try:
        import skops.io
    except ImportError:
        raise MissingDependencyError("reading and writing scikit-learn models needs skops", pip="skops") from None
    finally:
        if skip is not None:
            sys.meta_path.remove(skip)
    return skops.io
