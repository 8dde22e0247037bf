"""Generate the embedded spoken-digit set shipped in ``mltasks_speech/data/digits/``.

Run from the repository root (needs the Debian packages ``espeak-ng`` and ``flite``)::

    python plugins/speech/scripts/make_digits.py            # rewrites the shipped set

Many voices from two synthesis engines say "zero" ... "nine" at several speeds and
pitches: espeak-ng (every English accent crossed with a different voice variant) and
flite (its four speakers, with duration and pitch changes). A classifier trained on one
engine alone does not generalise to the other (see OFFLINE.md), so both are mixed.

Files are written in the Speech Commands layout, ``<word>/<voice>_nohash_<n>.flac``:
the voice id (``espeak-en-us-m3``, ``flite-slt``) is what the task splits on, so no
voice is ever in two splits. Audio is trimmed of silence, peak-normalised and stored as
8 kHz 8-bit mono FLAC to keep the package small (about 1.7 kB a clip; the quantisation noise
sits ~40-50 dB under the speech, below the noise added in training); the task resamples to 16 kHz.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ACCENTS = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
VARIANTS = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3",
    "klatt4", "klatt6", "adam", "Alex", "Alicia", "Andy", "Annie", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "ed", "edward", "Gene", "gustave", "iven", "john", "linda", "max", "Michael", "Mike",
    "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac", "norbert", "grandpa", "grandma",
    "shelby", "sandro",
]
#: flite speakers; ``kal16`` is the same speaker as ``kal`` at 16 kHz, so it shares the voice id.
FLITE = {"kal": "kal", "kal16": "kal", "awb": "awb", "rms": "rms", "slt": "slt"}
RATE = 8000


def trim(audio: np.ndarray, rate: int, pad_s: float = 0.03, threshold: float = 0.02) -> np.ndarray:
    """Cut leading and trailing silence (frames under ``threshold`` of the peak), keeping a pad."""
    frame = int(rate * 0.01)
    n = len(audio) // frame
    energy = np.abs(audio[: n * frame]).reshape(n, frame).max(axis=1)
    voiced = np.flatnonzero(energy > threshold * max(float(energy.max()), 1e-9))
    if voiced.size == 0:
        return audio
    pad = int(rate * pad_s)
    return audio[max(0, voiced[0] * frame - pad): min(len(audio), (voiced[-1] + 1) * frame + pad)]


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Resample to 8 kHz with torchaudio (sinc interpolation, anti-aliased)."""
    import torch
    import torchaudio.functional as F

    return F.resample(torch.from_numpy(audio).float(), rate, RATE).numpy()


def finish(path: Path, out: Path, gain: float) -> int:
    """Trim, resample, normalise and write one clip as FLAC; returns its length in samples."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    audio = trim(resample(audio.mean(axis=1), rate), RATE)
    audio = audio / max(float(np.abs(audio).max()), 1e-6) * gain
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), audio, RATE, format="FLAC", subtype="PCM_S8")
    return len(audio)


def espeak_jobs(rng: random.Random, per_voice: int) -> list[tuple[str, list[str], int]]:
    """(voice id, command without text/output, instance) for every espeak-ng clip."""
    jobs = []
    combos = list(itertools.product([125, 150, 175, 200], [25, 40, 55, 70, 85]))
    for i, variant in enumerate(VARIANTS):
        accent = ACCENTS[i % len(ACCENTS)]
        voice = f"espeak-{accent}-{variant.lower()}"
        for k, (speed, pitch) in enumerate(rng.sample(combos, per_voice)):
            jobs.append((voice, ["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch)], k))
    return jobs


def flite_jobs(rng: random.Random, per_voice: int) -> list[tuple[str, list[str], int]]:
    """(voice id, command without text/output, instance) for every flite clip."""
    jobs = []
    combos = list(itertools.product([0.8, 0.95, 1.1, 1.3], [-30, -15, 0, 15, 30]))
    for name, speaker in FLITE.items():
        count = per_voice if name != "kal16" else per_voice // 2
        for k, (stretch, shift) in enumerate(rng.sample(combos, count)):
            base = {"kal": 100, "kal16": 100, "awb": 110, "rms": 95, "slt": 170}[name]
            cmd = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch}",
                   "--setf", f"int_f0_target_mean={base + shift}"]
            jobs.append((f"flite-{speaker}", cmd, k + (100 if name == "kal16" else 0)))
    return jobs


def main() -> None:
    """Generate the set into ``--out`` (default: the package's data folder)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = Path(__file__).resolve().parents[1] / "mltasks_speech" / "data" / "digits"
    parser.add_argument("--out", type=Path, default=here)
    parser.add_argument("--espeak-per-voice", type=int, default=3)
    parser.add_argument("--flite-per-voice", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    jobs = espeak_jobs(rng, args.espeak_per_voice) + flite_jobs(rng, args.flite_per_voice)
    if args.out.exists():
        shutil.rmtree(args.out)
    lengths = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        for voice, cmd, k in jobs:
            for word in WORDS:
                if cmd[0] == "espeak-ng":
                    full = cmd + ["-w", str(wav), word]
                else:
                    full = cmd + ["-t", word, "-o", str(wav)]
                subprocess.run(full, check=True, capture_output=True)
                gain = rng.uniform(0.3, 0.95)
                lengths.append(finish(wav, args.out / word / f"{voice}_nohash_{k}.flac", gain))
    size = sum(p.stat().st_size for p in args.out.rglob("*.flac"))
    voices = {v for v, _, _ in jobs}
    print(f"{len(lengths)} clips, {len(voices)} voices, {size / 1e6:.2f} MB, "
          f"longest {max(lengths) / RATE:.2f} s, mean {np.mean(lengths) / RATE:.2f} s -> {args.out}")


if __name__ == "__main__":
    main()
