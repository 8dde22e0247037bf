"""Report plots are real PNGs, drawn without pyplot's global state."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("matplotlib")

from mltasks.plots import bar_chart, confusion_matrix, learning_curve  # noqa: E402


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plots_write_pngs(tmp_path):
    cm = confusion_matrix(tmp_path / "cm.png", ["a", "b", "b"], ["a", "a", "b"], ["a", "b"])
    lc = learning_curve(tmp_path / "sub" / "lc.png", [{"step": 1, "val_loss": 1.0}, {"step": 2, "val_loss": 0.5}])
    bars = bar_chart(tmp_path / "bars.png", {"base": 1.0, "int8": 0.4}, "size", "MB")
    width, height = _png_size(cm)
    assert width > 300 and height > 300
    assert _png_size(lc) == (640, 480)
    assert _png_size(bars)[0] >= 500
    assert "matplotlib.pyplot" not in sys.modules
