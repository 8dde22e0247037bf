"""SpeechConfig: every option of the speech task (standard library only: ``mltasks info`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from mltasks import TaskConfig
from mltasks.errors import ConfigError

#: the voice augmentations of the whisper-tiny keyword model (mltasks_speech.voice_augment).
AUGMENT_KINDS = ("speed", "pitch", "formant", "noise", "reverb")
#: how the windows of a clip longer than clip_seconds make one prediction (mltasks_speech.windows).
WindowPick = Literal["confident", "mean", "loudest", "loud-confident"]
WINDOW_PICKS: tuple[str, ...] = get_args(WindowPick)
#: the CTC decoders of transcribe mode.
Decoder = Literal["greedy", "beam"]


def _h(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class SpeechConfig(TaskConfig):
    """Options of ``mltasks run speech``; ``--set mode=transcribe`` switches to CTC transcription."""

    #: ``--quick``: two epochs on at most 12 clips per word (transcribe mode also keeps a few
    #: utterances: see transcribe.py); every value you set yourself wins.
    quick_presets: ClassVar[dict[str, Any]] = {"epochs": 2, "max_per_class": 12}

    mode: Literal["keyword", "transcribe"] = field(
        default="keyword",
        metadata=_h("keyword: classify short clips into words (folders); transcribe: CTC speech-to-text from a "
                    "manifest CSV path,transcript"),
    )
    model: Literal["whisper-tiny", "cnn", "m5"] = field(
        default="whisper-tiny",
        metadata=_h("keyword model: whisper-tiny = a linear classifier on a frozen Whisper tiny.en encoder "
                    "(CTranslate2, offline; see pretrained_path); cnn = compact CNN on log-mel features trained "
                    "from scratch; m5 = M5 1-D CNN on raw audio (the torchaudio tutorial's model). The training "
                    "options (epochs, lr, augment...) are those of cnn and m5"),
    )
    pretrained: str = field(
        default="none",
        metadata=_h("transcribe without training (scores every row of the data): none, pocketsphinx "
                    "(mltasks-speech[pocketsphinx], en-US), whisper-tiny (mltasks-speech[whisper]: faster-whisper "
                    "and an offline CTranslate2 model; see pretrained_path)"),
    )
    pretrained_path: str = field(
        default="", metadata=_h("folder of a CTranslate2 Whisper model for pretrained=whisper-tiny and "
                                "model=whisper-tiny (empty: Whisper tiny.en from an installed package)"),
    )
    grammar: str = field(
        default="", metadata=_h("pocketsphinx closed vocabulary: comma-separated words (any sequence of them), or "
                                "the path of a JSGF grammar file; empty = the general English language model"),
    )
    features: Literal["logmel", "mfcc"] = field(
        default="logmel", metadata=_h("input features of the cnn and ctc models (torchaudio transforms)"),
    )
    sample_rate: int = field(default=16000, metadata=_h("every clip is resampled to this rate (Hz)"))
    clip_seconds: float = field(
        default=1.0, metadata=_h("keyword clips are padded or cut to this length, keeping the loudest window"),
    )
    trim_silence: bool = field(
        default=True, metadata=_h("keyword: cut leading and trailing silence (an energy trim) before a clip is padded "
                                  "or framed, at training and at predict alike"),
    )
    window_hop_s: float = field(
        default=0.25, metadata=_h("keyword predict: a clip longer than clip_seconds (after trimming) is scored over "
                                  "windows of clip_seconds this far apart, the last flush with its end"),
    )
    window_pick: WindowPick = field(
        default="loud-confident", metadata=_h("keyword predict: how the windows of a long clip give one answer: the "
                                         "window with the most confident word, the mean over windows, the loudest "
                                         "window, or the most confident of the windows holding at least a quarter "
                                         "of the loudest one's energy"),
    )
    min_confidence: float = field(
        default=0.0, metadata=_h("keyword: answer 'unknown' when the best word's probability is below this (the "
                                 "probabilities are calibrated on the validation clips; 0 = always answer); also a "
                                 "predict option"),
    )
    augment_copies: int = field(
        default=1, metadata=_h("whisper-tiny: augmented copies of every training clip (each costs one more pass of "
                               "the training clips through the encoder, about half the training time); 0 = none"),
    )
    augment_kinds: str = field(
        default="speed,formant,noise",
        metadata=_h("whisper-tiny: comma-separated augmentations each copy is drawn from: speed, pitch, formant, "
                    "noise, reverb (the default keeps those that helped on unheard voice families; see the README)"),
    )
    n_mels: int = field(default=40, metadata=_h("mel bands of the log-mel / MFCC features"))
    f_max: float = field(
        default=0.0,
        metadata=_h("highest mel frequency (Hz); 0 = half the lowest original sample rate in the training data, "
                    "so 8 kHz and 16 kHz recordings look alike"),
    )
    epochs: int = field(
        default=0, metadata=_h("training epochs (the best epoch by validation is kept); 0: 30 for keyword, 28 for "
                               "transcribe (WER 0.065 in 596 s on 2 idle cores); --quick presets 2"),
    )
    batch_size: int = field(default=64, metadata=_h("clips per training batch"))
    lr: float = field(default=3e-3, metadata=_h("peak learning rate (AdamW, one-cycle schedule)"))
    weight_decay: float = field(default=1e-3, metadata=_h("AdamW weight decay"))
    patience: int = field(default=0, metadata=_h("stop after this many epochs without improvement; 0 = never"))
    width: int = field(
        default=16, metadata=_h("model width: the cnn's first conv has 2x this many channels; m5 uses max(width, 32)"),
    )
    dropout: float = field(default=0.2, metadata=_h("dropout before the classifier / output layer"))
    augment: bool = field(
        default=True, metadata=_h("training-time augmentation: time shift, background noise, speed/pitch "
                                  "perturbation, SpecAugment masking"),
    )
    time_shift_s: float = field(default=0.1, metadata=_h("largest random time shift (seconds)"))
    noise_prob: float = field(default=0.8, metadata=_h("share of training clips mixed with background noise"))
    snr_db: tuple[float, float] = field(
        default=(5.0, 30.0), metadata=_h("range of the random signal-to-noise ratio of added noise (dB)"),
    )
    speed_perturb: float = field(
        default=0.12, metadata=_h("largest relative speed/pitch change (resampling), e.g. 0.1 = 0.9x..1.1x"),
    )
    vtlp: float = field(
        default=0.15, metadata=_h("vocal tract length perturbation: largest relative warp of the mel axis "
                                  "while training (0 = off); helps with voices unlike the training ones"),
    )
    tta_shift_s: float = field(
        default=0.0, metadata=_h("keyword test-time augmentation: average the predictions of each clip and of "
                                 "copies shifted this many seconds earlier and later (0 = off)"),
    )
    mixup: float = field(
        default=0.0, metadata=_h("keyword MixUp alpha: blend pairs of training clips and their labels with a weight "
                                 "drawn from Beta(alpha, alpha) (0 = off; 0.3 measured no better on held-out "
                                 "voices, see the README)"),
    )
    spec_augment: bool = field(default=True, metadata=_h("SpecAugment time and frequency masks on features"))
    balance: bool = field(default=True, metadata=_h("class-balanced sampling of training clips (whisper-tiny: "
                                                   "balanced class weights in the logistic regression)"))
    val_fraction: float = field(default=0.15, metadata=_h("share of speakers (or clips) held out for validation"))
    test_fraction: float = field(default=0.15, metadata=_h("share of speakers (or clips) held out for testing"))
    skip_bad_audio: bool = field(
        default=False, metadata=_h("skip corrupt, empty or silent files with a warning instead of failing"),
    )
    max_per_class: int = field(default=0, metadata=_h("keyword: cap on clips per word (0 = all; --quick presets 12)"))
    hidden: int = field(default=128, metadata=_h("transcribe: GRU hidden size per direction"))
    frame_stride: int = field(
        default=2, metadata=_h("transcribe: 10 ms feature frames per CTC output frame (2 = 20 ms, 3 = 30 ms: "
                               "shorter sequences, faster training)"),
    )
    decoder: Decoder = field(
        default="greedy", metadata=_h("transcribe: CTC decoding, greedy (best path, no dependencies) or beam "
                                      "(torchaudio's flashlight beam search; needs mltasks-speech[beam])"),
    )
    beam_width: int = field(default=8, metadata=_h("transcribe: beams kept by decoder=beam"))

    def epochs_for_mode(self) -> int:
        """The epochs to train: ``epochs``, or the mode's default when it is 0."""
        return self.epochs or (28 if self.mode == "transcribe" else 30)

    def __post_init__(self) -> None:
        if self.pretrained not in ("none", "pocketsphinx", "whisper-tiny"):
            raise ConfigError(f"pretrained={self.pretrained!r}: expected none, pocketsphinx or whisper-tiny")
        if self.pretrained != "none" and self.mode != "transcribe":
            raise ConfigError(f"pretrained={self.pretrained} transcribes: add --set mode=transcribe")
        if self.sample_rate < 4000:
            raise ConfigError(f"sample_rate={self.sample_rate} is too low (at least 4000 Hz)")
        if not 0.1 <= self.clip_seconds <= 10:
            raise ConfigError(f"clip_seconds={self.clip_seconds} must lie between 0.1 and 10")
        if self.val_fraction < 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("val_fraction and test_fraction must be >= 0 and add up to less than 0.9")
        low, high = self.snr_db
        if low > high:
            raise ConfigError(f"snr_db=({low}, {high}): the low end is above the high end")
        if not 0 <= self.vtlp < 0.5:
            raise ConfigError(f"vtlp={self.vtlp} must lie in [0, 0.5)")
        if not 0 <= self.tta_shift_s < self.clip_seconds / 2:
            raise ConfigError(f"tta_shift_s={self.tta_shift_s} must lie in [0, clip_seconds / 2)")
        if self.mixup < 0:
            raise ConfigError(f"mixup={self.mixup} must be >= 0")
        if not 0 <= self.speed_perturb < 0.5:
            raise ConfigError(f"speed_perturb={self.speed_perturb} must lie in [0, 0.5)")
        if not 0 <= self.min_confidence < 1:
            raise ConfigError(f"min_confidence={self.min_confidence} must lie in [0, 1)")
        if not 0 < self.window_hop_s <= self.clip_seconds:
            raise ConfigError(f"window_hop_s={self.window_hop_s} must lie in (0, clip_seconds]")
        if self.augment_copies < 0:
            raise ConfigError(f"augment_copies={self.augment_copies} must be >= 0")
        unknown = [k.strip() for k in self.augment_kinds.split(",") if k.strip() and k.strip() not in AUGMENT_KINDS]
        if unknown:
            raise ConfigError(f"augment_kinds: unknown {unknown}; expected some of {', '.join(AUGMENT_KINDS)}")
        if self.epochs < 0:
            raise ConfigError(f"epochs={self.epochs} must be at least 1 (or 0 for the mode's default)")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be positive")
        for name in ("weight_decay", "time_shift_s", "f_max"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0")
        for name in ("patience", "max_per_class"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0 (0 = off)")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout={self.dropout} must lie in [0, 1)")
        if not 0 <= self.noise_prob <= 1:
            raise ConfigError(f"noise_prob={self.noise_prob} must lie in [0, 1]")
        for name in ("batch_size", "n_mels", "width", "hidden", "beam_width", "frame_stride"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
