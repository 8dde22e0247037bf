"""Find and compare runs from their JSON files: ``mltasks runs`` and ``mltasks compare``.

Light on purpose (standard library only): listing hundreds of runs imports no plugin.
"""

from __future__ import annotations

from mltasks.runs.compare import compare_runs, format_comparison
from mltasks.runs.listing import RunSummary, list_runs

__all__ = ["RunSummary", "compare_runs", "format_comparison", "list_runs"]
