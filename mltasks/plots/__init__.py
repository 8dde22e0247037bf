"""PNG plots for reports, shared by every task (matplotlib, Agg backend, imported lazily).

Needs matplotlib (``pip install 'mltasks[plots]'``); every built-in plugin depends on it.
"""

from mltasks.plots.charts import bar_chart, confusion_matrix, learning_curve
from mltasks.plots.figure import figure

__all__ = ["bar_chart", "confusion_matrix", "figure", "learning_curve"]
