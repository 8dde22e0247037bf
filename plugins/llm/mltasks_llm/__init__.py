"""mltasks-llm: adapt a pretrained language model (LoRA/full/head), then quantize, prune and
distill it, with one comparison table (hook implementation only; the task is imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):
    """Register the llm task."""
    register(TaskSpec(
        name="llm",
        summary="adapt MiniLM / SmolLM2-135M cheaply (LoRA, full, head), then int8-quantize, prune and distill",
        task="mltasks_llm.task:LLMTask",
        config="mltasks_llm.config:LLMConfig",
        data_formats=[
            "classify: the text plugin's formats (a folder of label sub-folders of .txt files, "
            "or a CSV/TSV/JSONL file with text and label columns, optional split column)",
            "generate: a .txt file or folder of .txt files (documents separated by blank lines), "
            "a JSONL file of {prompt, response} records, or any text-plugin table (its text column)",
        ],
        default_data="the text plugin's embedded fortunes quotes (10 topics)",
        requires=["torch", "transformers", "peft", "safetensors", "sklearn", "mltasks_text"],
    ))
