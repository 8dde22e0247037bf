"""A run directory cannot make transformers run its code: a planted ``auto_map`` (with an unknown
``model_type``, so transformers would ask "run the custom code? [y/N]") is refused with exit 2
naming the file, before transformers reads it; no prompt, and the planted module never runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mltasks
import pytest
from click.testing import CliRunner
from mltasks.cli import cli
from mltasks.errors import DataError
from mltasks.testing.payloads import HF_PROMPTS as PROMPTS
from mltasks.testing.payloads import plant_custom_code

from mltasks_text.hf_folder import refuse_custom_code


def _write(folder: Path, name: str, content: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(content))
    return folder


# --- the helper alone --------------------------------------------------------------------------

@pytest.mark.parametrize("config", [{"model_type": "bert"},
                                    {"model_type": "llama", "tokenizer_class": "LlamaTokenizer"}])
def test_a_builtin_model_type_is_accepted(config: dict, tmp_path: Path) -> None:
    folder = _write(tmp_path, "config.json", config)
    assert refuse_custom_code(folder, tokenizer=True) == folder


@pytest.mark.parametrize("config, problem", [
    ({"model_type": "evil-net"}, "model_type 'evil-net' is not a model built into transformers"),
    ({"architectures": ["BertModel"]}, "no model_type"),
    ({"model_type": "bert", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}, "custom code (auto_map)"),
    ({"model_type": "bert", "text_config": {"auto_map": {"AutoConfig": "x.Y"}}}, "custom code (auto_map)"),
    (["not", "an", "object"], "not a JSON object"),
])
def test_an_unknown_model_type_or_custom_code_is_refused(config: dict, problem: str, tmp_path: Path) -> None:
    folder = _write(tmp_path, "config.json", config)
    with pytest.raises(DataError) as info:
        refuse_custom_code(folder)
    message = str(info.value)
    assert message.startswith(str(folder / "config.json") + ":") and problem in message and "\n" not in message


@pytest.mark.parametrize("tokenizer_config, problem", [
    ({"tokenizer_class": "BertTokenizer"}, None),
    ({"tokenizer_class": "BertTokenizerFast"}, None),
    ({}, None),
    ({"tokenizer_class": "EvilTokenizer"}, "tokenizer_class 'EvilTokenizer' is not a tokenizer built into"),
    ({"tokenizer_class": "AutoModel"}, "tokenizer_class 'AutoModel' is not a tokenizer built into"),
    ({"auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}}, "custom tokenizer (auto_map)"),
])
def test_a_tokenizer_config_naming_custom_code_is_refused(tokenizer_config: dict, problem: str | None,
                                                          tmp_path: Path) -> None:
    folder = _write(tmp_path, "tokenizer_config.json", tokenizer_config)
    if problem is None:
        assert refuse_custom_code(folder, model=False, tokenizer=True) == folder
        return
    with pytest.raises(DataError, match=r"tokenizer_config\.json: ") as info:
        refuse_custom_code(folder, model=False, tokenizer=True)
    assert problem in str(info.value)
    refuse_custom_code(folder, model=False)  # a model load reads no tokenizer config


def test_a_model_load_needs_a_config(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="config.json: model file not found"):
        refuse_custom_code(tmp_path)


# --- planted in a saved run, opened through the CLI --------------------------------------------

@pytest.fixture(scope="module")
def transformer_run(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick transformer run on the sample data with a tiny random BERT (seconds)."""
    from mltasks_text.data import write_sample_data

    sample = write_sample_data(tmp_path_factory.mktemp("sample"))
    return mltasks.run("text", data=str(sample), quick=True, out=tmp_path_factory.mktemp("runs") / "run",
                       overrides={"num_threads": 1, "model": "transformer", "pretrained": str(tiny_bert_dir),
                                  "max_length": 16}).run_dir


def test_the_untouched_run_opens(transformer_run: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", str(transformer_run), "The chef baked bread."], input="")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("tokenizer", [False, True], ids=["config", "tokenizer_config"])
def test_planted_custom_code_is_refused_without_a_prompt(transformer_run: Path, command: str, tokenizer: bool,
                                                         tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(transformer_run, run)
    marker = tmp_path / "marker"
    planted = plant_custom_code(run / "model" / "encoder", marker, tokenizer=tokenizer)
    args = [command, str(run)] + (["The chef baked bread."] if command == "predict" else [])
    result = CliRunner().invoke(cli, args, input="")
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and str(planted) in error[0] and "auto_map" in error[0], result.output
    assert not any(prompt in result.output for prompt in PROMPTS), result.output
    assert not marker.exists()
