"""mltasks-majority: an example third-party plugin (hook implementation only)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):
    """Register the ``majority`` task."""
    register(
        TaskSpec(
            name="majority",
            summary="majority-class and nearest-centroid classifiers over a CSV (example plugin)",
            task="mltasks_majority.task:MajorityTask",
            config="mltasks_majority.config:MajorityConfig",
            data_formats=["a CSV file with a header: numeric feature columns and a label column"],
            default_data="Fisher's iris flowers (150 rows, 3 species), shipped with the plugin",
        )
    )
