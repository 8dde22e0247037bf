"""Options of the ``image`` task (standard library only: ``mltasks info image`` reads them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from mltasks import TaskConfig
from mltasks.errors import ConfigError

# fine-tuning defaults, measured in benchmarks/results/image.json (upscaled digits, seed 0: LP-FT with
# frozen batch-norm statistics at 3e-4 for 3 epochs 0.967 vs the probe's 0.961; at the head's 2e-3 with
# train-mode batch norm no epoch beat the probe on validation)
UNFREEZE_DEFAULT = 6
BACKBONE_LR_MULT_DEFAULT = 1.0
BN_FREEZE_DEFAULT = True
FINETUNE_LR, FINETUNE_EPOCHS = 3e-4, 3  # lr=0 / epochs=0 (auto) under strategy=finetune
HEAD_LR, HEAD_EPOCHS = 2e-3, 6  # ... and for the probe's torch linear head (head=linear)


@dataclass(frozen=True)
class ImageConfig(TaskConfig):
    """Transfer learning from a pretrained image backbone: linear probe or fine-tuning."""

    #: ``--quick``: one epoch on 12 images per class at 32 px (and a few steps: see training.py);
    #: every value you set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"epochs": 1, "image_size": 32, "max_per_class": 12}

    strategy: Literal["linear-probe", "finetune"] = field(
        default="linear-probe",
        metadata={"help": "linear-probe: frozen backbone, features computed once (cached) and a linear classifier; "
                          "finetune: train the last backbone blocks (or all) with a new head"},
    )
    backbone: str = field(
        default="efficientnet-lite0",
        metadata={"help": "efficientnet-lite0 (ImageNet weights shipped offline), a torchvision model name "
                          "(resnet18, mobilenet_v3_small, ...) or timm:NAME; the latter two need weights=PATH"},
    )
    weights: str = field(
        default="",
        metadata={"help": "backbone weights: '' = the packaged ImageNet weights (efficientnet-lite0 only), "
                          "a local state-dict file (.pth/.pt/.safetensors), or 'none' = random init (from scratch)"},
    )
    image_size: int = field(
        default=0,
        metadata={"help": "side of the square network input in pixels (multiple of 32). 0 = auto: 224, the "
                          "backbone's native size, for linear-probe (0.870 vs 0.834 at 96 px on the default data) "
                          "and for finetune on cached frozen blocks (see unfreeze); 96 when every block trains on "
                          "pixels (unfreeze=-1, augment or mixup), whose cost per epoch grows with the area "
                          "(--quick presets 32)"},
    )
    head: Literal["logistic", "linear"] = field(
        default="logistic",
        metadata={"help": "linear-probe classifier: scikit-learn logistic regression, or a torch linear head "
                          "trained with the shared engine (epochs, lr, batch_size apply)"},
    )
    reg_c: float = field(
        default=0.0,
        metadata={"help": "logistic head: inverse L2 strength C on standardised features; 0 = pick C from "
                          "0.03, 0.1, 0.3, 1 by validation accuracy"},
    )
    unfreeze: int = field(
        default=UNFREEZE_DEFAULT,
        metadata={"help": "finetune: number of last backbone blocks to train (-1 = all; 0 = head only). With "
                          "EfficientNet-Lite and no augment/mixup, the frozen blocks run once per image (their "
                          "output is cached like the probe's features) and only the last blocks run each epoch"},
    )
    lp_init: bool = field(
        default=True,
        metadata={"help": "finetune: LP-FT (Kumar et al. 2022): fit the linear probe's logistic head on the "
                          "frozen features first and fine-tune from it; when no epoch beats the probe on the "
                          "validation split, the probe is kept"},
    )
    epochs: int = field(default=0, metadata={
        "help": f"finetune / linear head: passes over the training set (0 = auto: {FINETUNE_EPOCHS} finetune, "
                f"{HEAD_EPOCHS} linear head)"})
    batch_size: int = field(default=32, metadata={"help": "finetune / linear head: images per step"})
    lr: float = field(default=0.0, metadata={"help": "learning rate of the head (AdamW, cosine schedule; 0 = auto: "
                                                  f"{FINETUNE_LR:g} finetune (LP-FT), {HEAD_LR:g} linear head)"})
    backbone_lr_mult: float = field(
        default=BACKBONE_LR_MULT_DEFAULT,
        metadata={"help": "finetune: discriminative learning rates: the last trained block gets lr*mult, each "
                          "earlier block a further 0.85x less"},
    )
    bn_momentum: float = field(
        default=0.1,
        metadata={"help": "finetune: batch-norm momentum of the trained blocks (PyTorch convention: weight of "
                          "each new batch in the running statistics); 0 keeps the backbone's own (0.01 for "
                          "EfficientNet-Lite, too slow to follow the weights over a few epochs)"},
    )
    bn_freeze: bool = field(
        default=BN_FREEZE_DEFAULT,
        metadata={"help": "finetune: batch norm keeps its running statistics during training (eval-mode batch "
                          "norm; its scale and shift still train), so training, validation and the saved model "
                          "see the same statistics, and LP-FT starts exactly from the probe"},
    )
    bn_recalibrate: bool = field(
        default=True,
        metadata={"help": "finetune: after training, re-estimate the trained blocks' batch-norm running "
                          "statistics on the plain training images (weights unchanged), so the saved "
                          "statistics match the saved weights"},
    )
    pixel_baseline: bool = field(
        default=True,
        metadata={"help": "report: also fit a logistic regression on the raw pixels (32 px) of the same "
                          "split, the reference a pretrained model should beat"},
    )
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    patience: int = field(
        default=0, metadata={"help": "stop after this many epochs without a better val accuracy (0 = never)"}
    )
    augment: bool = field(
        default=False,
        metadata={"help": "finetune: random resized crop, horizontal flip and colour jitter on training images "
                          "(never at evaluation); it makes every block run each epoch on pixels (no cache)"},
    )
    randaugment: bool = field(default=False, metadata={"help": "finetune: add RandAugment to the augmentation"})
    mixup: float = field(default=0.0, metadata={"help": "finetune: MixUp alpha (0 = off)"})
    val_fraction: float = field(
        default=0.2, metadata={"help": "share of the images held out for validation when the data has no val/"}
    )
    test_fraction: float = field(
        default=0.2, metadata={"help": "share of the images held out for testing when the data has no test/"}
    )
    max_per_class: int = field(
        default=0, metadata={"help": "use at most this many images of each class (0 = all)"}
    )
    skip_bad_images: bool = field(
        default=False,
        metadata={"help": "skip corrupt or unreadable images with a warning instead of stopping with an error"},
    )
    top_k: int = field(default=3, metadata={"help": "k of the top-k accuracy and the labels predict prints"})

    def __post_init__(self) -> None:
        if self.image_size and (self.image_size < 32 or self.image_size % 32):
            raise ConfigError(f"image_size={self.image_size}: must be a multiple of 32 and at least 32")
        fractions = (self.val_fraction, self.test_fraction)
        if not 0 <= fractions[0] < 1 or not 0 < fractions[1] < 1 or sum(fractions) >= 1:
            raise ConfigError(
                f"val_fraction={self.val_fraction}, test_fraction={self.test_fraction}: each must lie in [0, 1) "
                "(test above 0) and their sum below 1"
            )
        for name in ("batch_size", "top_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least 1")
        if not 0 <= self.bn_momentum <= 1:
            raise ConfigError(f"bn_momentum={self.bn_momentum}: must lie in [0, 1] (0 = the backbone's own)")
        if self.epochs < 0:
            raise ConfigError(f"epochs={self.epochs}: must be at least 1 (0 = auto)")
        if self.lr < 0 or self.reg_c < 0 or self.backbone_lr_mult < 0 or self.weight_decay < 0 or self.mixup < 0:
            raise ConfigError("lr (0 = auto), reg_c, backbone_lr_mult, weight_decay and mixup must be non-negative")
        if self.unfreeze < -1 or self.max_per_class < 0 or self.patience < 0:
            raise ConfigError("unfreeze must be -1 or more; max_per_class and patience 0 or more")
        if not self.backbone.strip():
            raise ConfigError("backbone is empty: use efficientnet-lite0, a torchvision model name or timm:NAME")

    @property
    def trunk_cached(self) -> bool:
        """Whether fine-tuning runs the frozen blocks once (cached) and trains the last ``unfreeze``
        blocks on their output: EfficientNet-Lite, some blocks frozen, no pixel augmentation."""
        return (self.strategy == "finetune" and self.backbone.startswith("efficientnet-lite") and self.unfreeze >= 0
                and not self.augment and self.mixup == 0)

    @property
    def fit_lr(self) -> float:
        """``lr``, or its automatic value for the strategy."""
        return self.lr or (FINETUNE_LR if self.strategy == "finetune" else HEAD_LR)

    @property
    def fit_epochs(self) -> int:
        """``epochs``, or its automatic value for the strategy."""
        return self.epochs or (FINETUNE_EPOCHS if self.strategy == "finetune" else HEAD_EPOCHS)
