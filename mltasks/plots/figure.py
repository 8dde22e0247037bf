"""One matplotlib figure saved atomically as a PNG (Agg, no pyplot)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mltasks.cache import atomic_file
from mltasks.errors import MissingDependencyError


def _figure_class() -> Any:
    # matplotlib's object-oriented Figure draws with Agg and skips pyplot's import and global state
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError("plots need matplotlib", pip="matplotlib") from exc
    return Figure


@contextmanager
def figure(path: Path | str, *, size: tuple[float, float] = (6.4, 4.8), dpi: int = 100) -> Iterator[Any]:
    """Yield a matplotlib ``Axes``; on exit the figure is saved to ``path`` and closed.

    ::

        with figure(run_dir / "loss.png") as ax:
            ax.plot(losses)
    """
    fig = _figure_class()(figsize=size)
    ax = fig.subplots()
    yield ax
    fig.tight_layout()
    # written whole or not at all; a path that cannot be written is exit 2 naming it
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format=Path(path).suffix[1:].lower() or None, dpi=dpi)
