"""LLMConfig: every option of the ``llm`` task (standard library only: ``mltasks info`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from mltasks import TaskConfig
from mltasks.errors import ConfigError

#: the variants a run can build (and predict can name).
Variant = Literal["base", "adapted", "quantized", "pruned", "distilled"]
VARIANTS: tuple[str, ...] = get_args(Variant)
#: what 0 means for the fields where it picks a value (named in range errors).
_ZERO = {"max_steps": "by epochs or mode", "max_length": "by mode", "distill_epochs": "twice epochs",
         "latency_repeats": "by mode", "max_per_class": "no cap"}


@dataclass(frozen=True)
class LLMConfig(TaskConfig):
    """Adapt a pretrained language model, then compress it; every variant is measured."""

    #: ``--quick``: 12 texts per class, one epoch (classify) or 3 optimizer steps (generate; in classify
    #: they cap the one epoch), a one-epoch student; smoke runs also read at most 60 documents in
    #: generate mode and score fewer blocks (see lm_data.py and pipeline.py). Every value you set wins.
    quick_presets: ClassVar[dict[str, Any]] = {"max_per_class": 12, "epochs": 1, "max_steps": 3, "distill_epochs": 1}

    mode: Literal["classify", "generate"] = field(
        default="classify",
        metadata={"help": "classify: adapt the MiniLM encoder to labelled texts; "
                          "generate: adapt the SmolLM2-135M causal LM to a text/JSONL corpus"},
    )
    pretrained: str = field(
        default="",
        metadata={"help": "local Hugging Face folder to adapt instead of the packaged model "
                          "(MiniLM for classify, SmolLM2-135M converted from GGUF for generate)"},
    )
    method: Literal["lora", "full", "head"] = field(
        default="lora",
        metadata={"help": "lora: low-rank adapters (peft) + the head; full: every weight; "
                          "head: frozen encoder, train only the classifier head (classify only)"},
    )
    lora_r: int = field(
        default=0, metadata={"help": "LoRA rank; 0: 4 for classify (every Linear), 8 for generate (q_proj,v_proj)"}
    )
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    lora_targets: tuple[str, ...] = field(
        default=(),
        metadata={"help": "module names LoRA wraps, comma-separated; empty: every Linear of the encoder "
                          "(query,key,value,dense: MiniLM's attention and feed-forward layers; ~0.75% of its "
                          "parameters at r=4) or q_proj,v_proj (SmolLM2)"},
    )
    lora_merge: bool = field(
        default=True,
        metadata={"help": "merge the adapters into the weights after training (false: keep and save "
                          "them as a peft adapter beside the untouched base)"},
    )
    epochs: int = field(
        default=4,
        metadata={"help": "training epochs (classify); 4 epochs of ~1,000 docs at 64 tokens fit the "
                          "~10 minute CPU budget of a default run; --quick presets 1"},
    )
    max_steps: int = field(
        default=0,
        metadata={"help": "optimizer steps; 0: epochs for classify, 40 for generate (a LoRA step of "
                          "8 x 128 tokens through SmolLM2-135M takes ~10 s on 2 CPU cores); --quick presets 3"},
    )
    lr: float = field(
        default=0.0,
        metadata={"help": "learning rate; 0: by method (lora 2e-3 classify / 5e-4 generate, "
                          "full 5e-5, head 1e-2)"},
    )
    batch_size: int = field(default=16, metadata={"help": "training batch size"})
    max_length: int = field(
        default=0,
        metadata={"help": "tokens per example; 0: 64 for classify (fortunes are short; dynamic "
                          "padding) and 128 for generate blocks"},
    )
    text_col: str = field(default="text", metadata={"help": "CSV/JSONL column holding the text (classify)"})
    label_col: str = field(default="label", metadata={"help": "CSV/JSONL column holding the label (classify)"})
    val_size: float = field(default=0.15, metadata={"help": "fraction held out for validation"})
    test_size: float = field(default=0.2, metadata={"help": "fraction held out for the test"})
    max_per_class: int = field(
        default=150,
        metadata={"help": "cap of documents per class before splitting (classify; 0: no cap); keeps "
                          "the default fine-tune within ~10 minutes on 2 CPU cores; --quick presets 12"},
    )
    quantize: bool = field(
        default=True,
        metadata={"help": "also build the dynamic int8 variant (int8 Linear + weight-only int8 embeddings)"},
    )
    prune: bool = field(default=True, metadata={"help": "also build the magnitude-pruned variant"})
    prune_method: Literal["global", "neurons"] = field(
        default="global",
        metadata={"help": "global: unstructured L1 magnitude over all encoder Linear weights; "
                          "neurons: structured L2 pruning of feed-forward neurons, physically removed"},
    )
    sparsity: float = field(default=0.3, metadata={"help": "fraction of weights (or neurons) pruned"})
    distill: bool = field(
        default=True,
        metadata={"help": "also train a smaller student on the adapted model's soft labels (classify only)"},
    )
    student_layers: int = field(
        default=5,
        metadata={"help": "student transformer layers, initialised from evenly spaced teacher layers (the "
                          "first and the last included); 5 of MiniLM's 6 with the corpus vocabulary is 49.8% "
                          "of its parameters on the fortunes (the corpus vocabulary, not the layers, does "
                          "most of the shrinking)"},
    )
    student_vocab: Literal["corpus", "full"] = field(
        default="corpus",
        metadata={"help": "corpus: keep only the token embeddings the training texts use (the word "
                          "embeddings are half of MiniLM), any other token read as its nearest kept one; "
                          "full: keep the whole vocabulary"},
    )
    temperature: float = field(default=2.0, metadata={"help": "distillation softmax temperature"})
    distill_alpha: float = field(
        default=0.7, metadata={"help": "weight of the soft (teacher) loss; 1 - alpha goes to the hard labels"}
    )
    distill_hidden: float = field(
        default=1.0,
        metadata={"help": "weight of the hidden-state loss: each student layer's mean-pooled output matches the "
                          "teacher layer it was copied from (normalised squared error; 0: logits only)"},
    )
    distill_lr: float = field(default=2e-4, metadata={"help": "student learning rate"})
    distill_mask: float = field(
        default=0.0,
        metadata={"help": "augmentation: fraction of each student training batch's tokens replaced by [MASK], "
                          "with the teacher's targets computed on the masked texts (one teacher forward pass "
                          "per step); 0: the stored targets of the unmasked texts"},
    )
    distill_epochs: int = field(
        default=0, metadata={"help": "student epochs; 0: twice the teacher's epochs; --quick presets 1"}
    )
    primary: Literal["adapted", "quantized", "pruned", "distilled"] = field(
        default="adapted",
        metadata={"help": "the variant that evaluate/predict use; the others are reported and saved too"},
    )
    ngram_order: int = field(default=3, metadata={"help": "order of the Kneser-Ney n-gram baseline (generate)"})
    max_new_tokens: int = field(default=40, metadata={"help": "tokens generated per prompt (generate predict)"})
    latency_repeats: int = field(
        default=0,
        metadata={"help": "timed repetitions per batch-1 latency figure (a quarter of them at batch 32); "
                          "0: 20 for classify, 5 for generate (a batch-32 LM forward takes seconds), 3 with --quick"},
    )

    def __post_init__(self) -> None:
        if self.mode == "generate" and self.method == "head":
            raise ConfigError("method=head (frozen encoder + classifier head) exists only for mode=classify")
        if self.mode == "generate" and self.primary == "distilled":
            raise ConfigError("primary=distilled needs mode=classify: generate mode does not distill")
        if self.primary != "adapted" and not getattr(self, self.primary.replace("quantized", "quantize")
                                                     .replace("pruned", "prune").replace("distilled", "distill")):
            raise ConfigError(f"primary={self.primary} but that variant is switched off")
        if not 0.0 <= self.sparsity < 1.0:
            raise ConfigError(f"sparsity={self.sparsity} must be in [0, 1)")
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ConfigError(f"distill_alpha={self.distill_alpha} must be in [0, 1]")
        if self.distill_hidden < 0 or self.distill_lr <= 0 or not 0.0 <= self.distill_mask < 1.0:
            raise ConfigError("distill_hidden must be >= 0, distill_lr positive and distill_mask in [0, 1)")
        if self.lora_r < 0:
            raise ConfigError(f"lora_r={self.lora_r} must be positive (0: by mode)")
        if self.temperature <= 0 or self.batch_size < 1 or self.student_layers < 1:
            raise ConfigError("temperature, batch_size and student_layers must be positive")
        if self.ngram_order < 1:
            raise ConfigError(f"ngram_order={self.ngram_order} must be at least 1")
        for name in ("epochs", "lora_alpha", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        for name in ("max_steps", "max_length", "distill_epochs", "latency_repeats", "max_per_class"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 0 (0: {_ZERO[name]})")
        if self.lr < 0:
            raise ConfigError(f"lr={self.lr} must be at least 0 (0: by method)")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout={self.lora_dropout} must be in [0, 1)")
        for name in ("val_size", "test_size"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} must be in (0, 1)")
        if self.val_size + self.test_size >= 1.0:
            raise ConfigError(f"val_size + test_size = {self.val_size + self.test_size:g} must be below 1 "
                              "(the rest trains)")

    # Resolved defaults (the "0 means auto" fields) --------------------------------

    def length(self) -> int:
        """Tokens per example."""
        return self.max_length or (64 if self.mode == "classify" else 128)

    def learning_rate(self) -> float:
        """The learning rate for the adaptation method."""
        if self.lr:
            return self.lr
        if self.method == "lora":
            return 2e-3 if self.mode == "classify" else 5e-4
        return 5e-5 if self.method == "full" else 1e-2

    def rank(self) -> int:
        """The LoRA rank."""
        return self.lora_r or (4 if self.mode == "classify" else 8)

    def targets(self) -> tuple[str, ...]:
        """Module names LoRA wraps."""
        if self.lora_targets:
            return self.lora_targets
        return ("query", "key", "value", "dense") if self.mode == "classify" else ("q_proj", "v_proj")
