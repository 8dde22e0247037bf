"""The report's model-vs-popularity bar chart, drawn with Pillow.

matplotlib costs more to import than the default ALS run spends training (about 0.4 s quiet,
seconds on a loaded machine), so this one grouped bar chart is drawn directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

MODEL_COLOUR = (76, 114, 176)
BASELINE_COLOUR = (192, 192, 192)
INK = (40, 40, 40)


def bar_chart(path: Path, names: Sequence[str], series: dict[str, Sequence[float]], title: str,
              size: tuple[int, int] = (760, 420)) -> Path:
    """Grouped bars: one group per name, one bar per series (first series blue, second grey).

    :param series: label -> one value per name (scores in [0, 1] or above: the axis fits the maximum).
    """
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    big = ImageFont.load_default(size=15)
    left, right, top, bottom = 60, 20, 50, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [1e-9])
    top_value = _nice_ceiling(peak)
    draw.text((width / 2, 18), title, fill=INK, font=big, anchor="mm")
    for i in range(6):  # horizontal grid lines with their values
        value = top_value * i / 5
        y = top + plot_h - plot_h * value / top_value
        draw.line([(left, y), (left + plot_w, y)], fill=(225, 225, 225))
        draw.text((left - 6, y), f"{value:.3g}", fill=INK, font=font, anchor="rm")
    draw.line([(left, top), (left, top + plot_h), (left + plot_w, top + plot_h)], fill=INK)
    group = plot_w / max(1, len(names))
    bar = group * 0.7 / max(1, len(series))
    colours = [MODEL_COLOUR, BASELINE_COLOUR]
    for g, name in enumerate(names):
        x0 = left + g * group + group * 0.15
        for s, values in enumerate(series.values()):
            h = plot_h * values[g] / top_value
            x = x0 + s * bar
            draw.rectangle([(x, top + plot_h - h), (x + bar - 2, top + plot_h)], fill=colours[s % len(colours)])
        draw.text((left + (g + 0.5) * group, top + plot_h + 8), name, fill=INK, font=font, anchor="ma")
    for s, label in enumerate(series):  # legend, bottom right
        x = width - right - 230 + s * 120
        draw.rectangle([(x, height - 26), (x + 14, height - 12)], fill=colours[s % len(colours)])
        draw.text((x + 20, height - 19), label, fill=INK, font=font, anchor="lm")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=False)
    return Path(path)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value``, for round axis labels."""
    import math

    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * 10**exponent >= value:
            return step * 10**exponent
    return 10.0 ** (exponent + 1)
