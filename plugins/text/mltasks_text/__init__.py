"""mltasks-text: text classification (hook implementation only; the task is imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the ``text`` task."""
    register(
        TaskSpec(
            name="text",
            summary="text classification: TF-IDF baseline, CNN/LSTM from scratch, transformer fine-tuning, "
                    "and their blend (the default)",
            task="mltasks_text.task:TextTask",
            config="mltasks_text.config:TextConfig",
            data_formats=[
                "a folder with one sub-folder per label holding .txt files (optionally under train/ val/ test/)",
                "a CSV, TSV or JSONL file (optionally .gz) with text and label columns and an optional split column",
            ],
            default_data="ten topics of Debian fortunes (1,756 quotes, embedded in the plugin)",
            requires=["sklearn", "torch", "transformers"],
        )
    )
