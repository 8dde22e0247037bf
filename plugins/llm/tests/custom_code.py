"""Planting custom code in a saved Hugging Face folder: an ``auto_map`` naming a module beside the
weights whose import writes a marker file, with an unknown ``model_type`` (so transformers, left to
itself, would ask "run the custom code? [y/N]")."""

from __future__ import annotations

import json
from pathlib import Path

#: What transformers prints when it asks; none of it may reach the user.
PROMPTS = ("[y/N]", "custom code?", "trust_remote_code")

AUTO_CLASSES = ("AutoConfig", "AutoModel", "AutoModelForCausalLM")


def plant_custom_code(folder: Path, marker: Path, *, tokenizer: bool = False) -> Path:
    """Make ``folder`` ask for a planted module that writes ``marker`` when imported; returns the
    config file that now asks for it (``tokenizer_config.json`` with ``tokenizer``, else ``config.json``)."""
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('the planted code ran')\n"
    if tokenizer:
        (folder / "tokenization_evil.py").write_text(code)
        path = folder / "tokenizer_config.json"
        config = json.loads(path.read_text()) if path.is_file() else {}
        config.update(tokenizer_class="EvilTokenizer",
                      auto_map={"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]})
    else:
        (folder / "modeling_evil.py").write_text(code)
        path = folder / "config.json"
        config = json.loads(path.read_text())
        config.update(model_type="evil-net", auto_map={name: f"modeling_evil.Evil{name[4:]}"
                                                       for name in AUTO_CLASSES})
    path.write_text(json.dumps(config))
    return path
