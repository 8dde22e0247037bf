"""Saving and loading classify-mode variants (safetensors + JSON; no pickle).

Each variant lives in ``model/<variant>/``:

- float models (adapted merged, pruned, distilled): ``config.json`` (the encoder's
  transformers config: layers, vocabulary and FFN width may have shrunk),
  ``model.safetensors`` (encoder + head + the student's ``id_map``), ``meta.json``;
- base: ``head.safetensors`` only; the encoder is the pretrained one (``meta.json`` says where);
- adapted with ``lora_merge=false``: ``adapter/``, peft's ``save_pretrained`` (LoRA
  matrices and the head), applied to the pretrained encoder at load;
- quantized: ``config.json`` + ``quantized.safetensors`` + ``quantized.json`` (the recipe).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from mltasks_text.api import EncoderClassifier, build_classifier, check_files, encoder_from_config
from torch import nn

from mltasks.errors import DataError
from mltasks_llm.files import check_adapter, guarded, read_meta, read_tensors
from mltasks_llm.quantize import load_quantized, save_quantized


def _meta(model: EncoderClassifier) -> dict:
    return {"n_classes": model.head.out_features, "hidden": model.head.in_features,
            "id_map": None if model.id_map is None else int(model.id_map.numel())}


def _skeleton(directory: Path) -> EncoderClassifier:
    """The classifier's architecture from ``config.json`` + ``meta.json`` (weights loaded after)."""
    meta = read_meta(directory, "n_classes")
    model = EncoderClassifier(guarded(directory / "config.json", lambda: encoder_from_config(directory)),
                              int(meta["n_classes"]))
    if meta.get("id_map"):
        model.id_map = torch.zeros(int(meta["id_map"]), dtype=torch.long)
    return model


def fill(model: nn.Module, path: Path) -> nn.Module:
    """Load the safetensors file ``path`` into ``model`` (strict)."""
    state = read_tensors(path)
    guarded(path, lambda: model.load_state_dict(state))
    return model


def save_float(model: EncoderClassifier, directory: Path) -> None:
    """A plain float classifier: config, weights, meta."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model.encoder.config.to_json_file(str(directory / "config.json"))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "meta.json").write_text(json.dumps({"kind": "float", **_meta(model)}))


def load_float(directory: Path) -> EncoderClassifier:
    """Inverse of :func:`save_float`."""
    return fill(_skeleton(directory), directory / "model.safetensors").eval()


def save_variant(name: str, model: nn.Module, directory: Path, pretrained: Path) -> None:
    """Write one variant into ``directory`` in the form that suits it (see the module docstring)."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    if name == "base":
        save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(directory / "head.safetensors"))
        (directory / "meta.json").write_text(json.dumps({"kind": "base", "pretrained": str(pretrained),
                                                         **_meta(model)}))
    elif hasattr(model, "peft_config"):
        model.save_pretrained(str(directory / "adapter"))
        inner = model.get_base_model()
        (directory / "meta.json").write_text(json.dumps({"kind": "lora", "pretrained": str(pretrained),
                                                         "n_classes": inner.head.out_features}))
    elif name == "quantized":
        model.encoder.config.to_json_file(str(directory / "config.json"))
        head = model.head
        meta = {"kind": "quantized", "n_classes": head.out_features, "hidden": head.in_features, "id_map": None}
        (directory / "meta.json").write_text(json.dumps(meta))
        save_quantized(model, directory)
    else:
        save_float(model, directory)


def load_variant(directory: Path, pretrained: Path | None = None) -> nn.Module:
    """Read a variant written by :func:`save_variant` (``pretrained`` overrides the recorded base path).

    :raises MltasksError: a file is missing or corrupt (the message names it).
    """
    meta = read_meta(directory, "kind")
    kind = meta["kind"]
    if kind in ("base", "lora"):
        base = build_classifier(pretrained or read_meta(directory, "pretrained")["pretrained"],
                                int(read_meta(directory, "n_classes")["n_classes"]))
        if kind == "base":
            fill(base.head, directory / "head.safetensors")
            return base.eval()
        from peft import PeftModel

        adapter = check_adapter(check_files(directory / "adapter",
                                            required=("adapter_config.json", "adapter_model.safetensors")))
        # peft takes no trust_remote_code: check_adapter refused whatever would import code
        return guarded(adapter, lambda: PeftModel.from_pretrained(base, str(adapter), local_files_only=True).eval())
    if kind == "quantized":
        return load_quantized(_skeleton(directory), directory)
    if kind == "float":
        return load_float(directory)
    raise DataError(f"{directory / 'meta.json'}: unknown variant kind {kind!r}")
