"""A run directory cannot make transformers or peft run its code: custom code planted in any
variant's folder, the tokenizer, an adapter, or a folder the run names as its base model is refused
with exit 2 and one line naming the file, before transformers reads it; no prompt is shown and the
planted module never runs (stdin is empty, as in a service)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltasks.cli import cli
from mltasks.testing.payloads import HF_PROMPTS as PROMPTS
from mltasks.testing.payloads import plant_custom_code

#: (mode, what is planted): a variant folder's config.json, the tokenizer's config, a peft adapter
#: that is not LoRA, or a base model folder inside the run that the run's files now point to.
CASES = [
    ("classify", "adapted"), ("classify", "quantized"), ("classify", "pruned"), ("classify", "distilled"),
    ("classify", "tokenizer"), ("classify", "base-pretrained"),
    ("generate", "quantized"), ("generate", "pruned"), ("generate", "tokenizer"), ("generate", "base-pretrained"),
    ("generate", "adapter"),
]


def _plant(run: Path, target: str, marker: Path) -> Path:
    """Plant ``target`` (see :data:`CASES`) in the copied run; the file the error must name."""
    model = run / "model"
    if target == "tokenizer":
        return plant_custom_code(model / "tokenizer", marker, tokenizer=True)
    if target == "base-pretrained":  # the base model is found through the task config, else meta.json
        evil = shutil.copytree(json.loads((model / "base" / "meta.json").read_text())["pretrained"],
                               model / "base" / "evil")
        for path in (model / "task_config.json", model / "base" / "meta.json"):
            path.write_text(json.dumps({**json.loads(path.read_text()), "pretrained": str(evil)}))
        return plant_custom_code(evil, marker)
    if target == "adapter":
        path = model / "adapted" / "adapter" / "adapter_config.json"
        config = json.loads(path.read_text())
        assert config["peft_type"] == "LORA"
        path.write_text(json.dumps({**config, "peft_type": "PROMPT_TUNING", "tokenizer_name_or_path": "evil/tok"}))
        return path
    assert (model / target / "config.json").is_file(), sorted(p.name for p in model.iterdir())
    return plant_custom_code(model / target, marker)


def _assert_refused(result, planted: Path, marker: Path) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    # a base model the run now points elsewhere is refused first for not being the weights the run
    # recorded (weights_used.json); anything else for its custom code
    named = str(planted) in errors[0] or ("weights_used.json" in errors[0] and "/evil/" in str(planted)) \
        if errors else False
    assert len(errors) == 1 and named, result.output
    assert not any(prompt in result.output for prompt in PROMPTS), result.output
    assert not marker.exists()


def test_the_untouched_runs_open(smoke_run: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", str(smoke_run), "The chef baked bread."], input="")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("mode, target", CASES, ids=[f"{m}-{t}" for m, t in CASES])
def test_planted_custom_code_is_refused_by_predict(smoke_runs: Callable[[str], Path], mode: str, target: str,
                                                   tmp_path: Path) -> None:
    run = shutil.copytree(smoke_runs(mode), tmp_path / "run")
    marker = tmp_path / "marker"
    planted = _plant(run, target, marker)
    result = CliRunner().invoke(cli, ["predict", str(run), "The chef baked bread."], input="")
    _assert_refused(result, planted, marker)


@pytest.mark.parametrize("mode, target", [("classify", "adapted"), ("generate", "tokenizer")],
                         ids=["classify-adapted", "generate-tokenizer"])
def test_planted_custom_code_is_refused_by_evaluate(smoke_runs: Callable[[str], Path], mode: str, target: str,
                                                    tmp_path: Path) -> None:
    run = shutil.copytree(smoke_runs(mode), tmp_path / "run")
    marker = tmp_path / "marker"
    planted = _plant(run, target, marker)
    _assert_refused(CliRunner().invoke(cli, ["evaluate", str(run)], input=""), planted, marker)
