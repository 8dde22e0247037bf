"""Generate the embedded spoken-digit set shipped in ``mltasks_speech/data/digits/``.

Run from the repository root (needs the Debian packages ``espeak-ng``, ``flite``, ``sox``,
``festival``, ``festvox-kallpc16k``, ``festvox-kdlpc16k``, ``festvox-us-slt-hts`` and, for the
accented voices, ``festvox-czech-dita``, ``festvox-czech-krb``, ``festvox-czech-machac``,
``festvox-czech-ph``, ``festvox-suopuhe-lj``, ``festvox-suopuhe-mv``, ``festvox-ca-ona-hts``,
``festvox-ru``)::

    python plugins/speech/scripts/make_digits.py                  # rewrites the shipped set
    python plugins/speech/scripts/make_digits.py --only-accented  # the accented voices alone

The accented voices are written to ``plugins/speech-accented/mltasks_speech_accented/digits/``
(``--accented-out``): made from GPL/LGPL voice databases, they ship in their own distribution,
``mltasks-speech-accented``, not in the MIT-licensed plugin.

Many voices from three synthesis engines say "zero" ... "nine" at several speeds and
pitches:

- espeak-ng: every English accent crossed with a different voice variant (formant synthesis);
- flite: its four speakers (CMU awb, kal, rms, slt), with duration and pitch changes;
- Festival: the kal and ked diphone voices and the slt HTS voice, with tempo and pitch changes
  (sox); kal and slt are the same people as flite's kal and slt;
- pitch-shifted variants of the flite/Festival speakers (``flite-kal-hi``: the voice pitched
  up to a female range, its formants raised with sox; ``flite-slt-lo``: the one female
  speaker pitched down). A variant is the same person as its source, so the task groups them
  (``default_data.speaker_of_voice``) and never splits one person across train and test;
- accented voices: Festival's Czech, Finnish, Catalan and Russian voices (eight real people,
  three of them women and one a boy) read the English digits respelt in their own orthography
  ("uan", "tuu", "trii"), as non-native speakers say them, with tempo and pitch changes; the four
  men also pitched up to a female range (``accented-cs-ph-hi``). They are training material:
  the held-out people stay native English voices.

A classifier trained on one engine alone does not generalise to the others (see
benchmarks/results/speech.json), so they are mixed.

Files are written in the Speech Commands layout, ``<word>/<voice>_nohash_<n>.flac``: the voice
id is ``<engine>-<name>`` (``espeak-en-us-m3``, ``flite-slt``, ``festival-ked``,
``flite-kal-hi``). Audio is trimmed of silence, peak-normalised and stored as 8 kHz 8-bit mono
FLAC to keep the package small (about 1.8 kB a clip; the quantisation noise sits ~40-50 dB under
the speech, below the noise added in training); the task resamples to 16 kHz. The voices of the
first release (espeak-ng and flite) draw from the same random generator as before, so their
clips stay byte-identical; each later group of voices draws from its own, and sox runs in its
repeatable mode (``-R``), so a rerun writes the same clips.
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
#: Festival voices (Debian festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts): voice id -> selector.
FESTIVAL = {"kal": "voice_kal_diphone", "ked": "voice_ked_diphone", "slt": "voice_cmu_us_slt_arctic_hts"}
#: pitch-shifted variants: voice id -> (synthesis command, F0 target range in Hz for flite or None,
#: sox pitch shift range in cents, which moves the formants with the pitch).
SHIFTED = {
    "flite-awb-hi": (["flite", "-voice", "awb"], (170, 230), (150, 300)),
    "flite-kal-hi": (["flite", "-voice", "kal16"], (170, 230), (150, 300)),
    "flite-rms-hi": (["flite", "-voice", "rms"], (170, 230), (150, 300)),
    "flite-slt-lo": (["flite", "-voice", "slt"], (95, 125), (-300, -150)),
    "festival-ked-hi": (["text2wave", "-eval", f"({FESTIVAL['ked']})"], None, (300, 500)),
}
#: accented voices: real speakers of other languages (Festival voices of Debian's festvox-czech-*,
#: festvox-suopuhe-*, festvox-ca-ona-hts, festvox-ru) reading the English digits from respellings
#: in their own orthography, as a non-native speaker would say them. Voice id -> (selector, language).
ACCENTED = {
    "cs-dita": ("voice_czech_dita", "cs"), "cs-krb": ("voice_czech_krb", "cs"),
    "cs-machac": ("voice_czech_machac", "cs"), "cs-ph": ("voice_czech_ph", "cs"),
    "fi-lj": ("voice_suo_fi_lj_diphone", "fi"), "fi-mv": ("voice_hy_fi_mv_diphone", "fi"),
    "ca-ona": ("voice_upc_ca_ona_hts", "ca"), "ru-nsh": ("voice_msu_ru_nsh_clunits", "ru"),
}
#: the accented men, also pitched up to a female range.
ACCENTED_SHIFTED = ("cs-machac", "cs-ph", "fi-mv", "ru-nsh")
#: "zero" ... "nine" spelt for each language's letter-to-sound rules (plain ASCII for Czech: the
#: Czech voices read UTF-8 accents as letter names).
RESPELLINGS = {
    "cs": ["zirou", "uan", "tuu", "trii", "foor", "fajf", "siks", "sevn", "ejt", "najn"],
    "fi": ["siirou", "uan", "tuu", "trii", "foor", "faiv", "siks", "seven", "eit", "nain"],
    "ca": ["zírou", "uan", "tu", "tri", "for", "faiv", "sics", "seven", "eit", "nain"],
    "ru": ["зироу", "уан", "ту", "сри", "фор", "файв", "сикс", "сэвэн", "эйт", "найн"],
}
RATE = 8000
#: a job: voice id, synthesis command without text/output, instance number, sox effects after it.
Job = tuple[str, list[str], int, list[str]]


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


def text2wave_jobs(rng: random.Random, per_voice: int, voices: dict[str, str]) -> list[Job]:
    """Festival clips of ``voices`` (voice id -> selector) at ``per_voice`` drawn tempo/pitch
    pairs; Festival's HTS voices ignore Duration_Stretch, so tempo and pitch come from sox."""
    jobs = []
    combos = list(itertools.product([0.8, 0.95, 1.1, 1.3], [-100, -50, 0, 50, 100]))
    for voice, selector in voices.items():
        for k, (stretch, cents) in enumerate(rng.sample(combos, per_voice)):
            effects = ["tempo", "-s", f"{1 / stretch:.3f}", "pitch", str(cents)]
            jobs.append((voice, ["text2wave", "-eval", f"({selector})"], k, effects))
    return jobs


def festival_jobs(rng: random.Random, per_voice: int) -> list[Job]:
    """The English Festival voices (see ``FESTIVAL``)."""
    return text2wave_jobs(rng, per_voice, {f"festival-{name}": selector for name, selector in FESTIVAL.items()})


def shifted_jobs(rng: random.Random, per_voice: int) -> list[Job]:
    """Pitch-shifted variants of the flite/Festival speakers (see ``SHIFTED``)."""
    jobs = []
    for voice, (cmd, f0, cents) in SHIFTED.items():
        for k in range(per_voice):
            stretch = rng.uniform(0.85, 1.25)
            args = list(cmd)
            effects = ["pitch", str(rng.randint(*cents))]
            if f0 is not None:  # flite: new F0 target (the formants stay), slower or faster speech
                args += ["--setf", f"duration_stretch={stretch:.2f}",
                         "--setf", f"int_f0_target_mean={rng.randint(*f0)}"]
            else:
                effects = ["tempo", "-s", f"{1 / stretch:.3f}"] + effects
            jobs.append((voice, args, k, effects))
    return jobs


def accented_jobs(rng: random.Random, per_voice: int) -> list[Job]:
    """The accented voices (see ``ACCENTED``), with tempo and pitch changes as for Festival's own."""
    return text2wave_jobs(rng, per_voice, {f"accented-{name}": selector for name, (selector, _) in ACCENTED.items()})


def accented_shifted_jobs(rng: random.Random, per_voice: int) -> list[Job]:
    """The accented men pitched up to a female range (formants raised too), as ``festival-ked-hi``."""
    jobs = []
    for name in ACCENTED_SHIFTED:
        selector = ACCENTED[name][0]
        for k in range(per_voice):
            effects = ["tempo", "-s", f"{1 / rng.uniform(0.85, 1.25):.3f}", "pitch", str(rng.randint(300, 500))]
            jobs.append((f"accented-{name}-hi", ["text2wave", "-eval", f"({selector})"], k, effects))
    return jobs


def spoken_text(voice: str, word: str) -> str:
    """What ``voice`` is given to read for ``word``: an accented voice reads its language's respelling."""
    name = voice.removeprefix("accented-").removesuffix("-hi")
    return RESPELLINGS[ACCENTED[name][1]][WORDS.index(word)] if name in ACCENTED else word


def synthesise(cmd: list[str], effects: list[str], word: str, tmp: Path) -> Path:
    """Run one synthesis command (and the sox effects) for ``word``; returns the WAV written."""
    # Synthesis is deterministic: each (command, word) runs once and its WAV is reused (Festival
    # spends about a second loading a voice).
    wav = tmp / f"clip-{abs(hash((*cmd, word)))}.wav"
    if not wav.exists():
        _run_synthesis(cmd, word, wav, tmp)
    if not effects:
        return wav
    out = tmp / "shifted.wav"
    # -R: repeatable (a fixed dither seed), so a rerun writes the same clips
    subprocess.run(["sox", "-R", str(wav), str(out), *effects], check=True, capture_output=True)
    return out


def _run_synthesis(cmd: list[str], word: str, wav: Path, tmp: Path) -> None:
    """Synthesise ``word`` into ``wav`` with espeak-ng, flite or Festival's text2wave."""
    if cmd[0] == "espeak-ng":
        full = cmd + ["-w", str(wav), word]
    elif cmd[0] == "flite":
        full = cmd + ["-t", word, "-o", str(wav)]
    else:  # Festival's text2wave reads a text file
        (tmp / "word.txt").write_text(word + "\n", encoding="utf-8")
        full = cmd + ["-o", str(wav), str(tmp / "word.txt")]
    subprocess.run(full, check=True, capture_output=True)


def main() -> None:
    """Generate the set into ``--out`` (default: the package's data folder)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = Path(__file__).resolve().parents[1] / "mltasks_speech" / "data" / "digits"
    # the accented voices keep GPL/LGPL licences: they go to their own distribution, mltasks-speech-accented
    accented_here = Path(__file__).resolve().parents[2] / "speech-accented" / "mltasks_speech_accented" / "digits"
    parser.add_argument("--out", type=Path, default=here)
    parser.add_argument("--accented-out", type=Path, default=accented_here)
    parser.add_argument("--espeak-per-voice", type=int, default=3)
    parser.add_argument("--flite-per-voice", type=int, default=16)
    parser.add_argument("--festival-per-voice", type=int, default=12)
    parser.add_argument("--shifted-per-voice", type=int, default=10)
    parser.add_argument("--accented-per-voice", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-accented", action="store_true",
                        help="(re)write the accented voices alone, keeping the other clips")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    first: list[Job] = [(v, c, k, []) for v, c, k in
                        espeak_jobs(rng, args.espeak_per_voice) + flite_jobs(rng, args.flite_per_voice)]
    later_rng = random.Random(args.seed + 1)  # the later voices' own draws keep the first release's clips as they were
    later = festival_jobs(later_rng, args.festival_per_voice) + shifted_jobs(later_rng, args.shifted_per_voice)
    accented_rng = random.Random(args.seed + 2)
    accented = accented_jobs(accented_rng, args.accented_per_voice)
    shifted_rng = random.Random(args.seed + 3)
    shifted = accented_shifted_jobs(shifted_rng, args.shifted_per_voice)
    groups = [(first, rng), (later, later_rng), (accented, accented_rng), (shifted, shifted_rng)]
    if args.only_accented:
        groups = groups[2:]
    elif args.out.exists():
        shutil.rmtree(args.out)
    for old in args.accented_out.glob("*/accented-*.flac"):
        old.unlink()
    lengths = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs, gen in groups:
            for voice, cmd, k, effects in jobs:
                for word in WORDS:
                    wav = synthesise(cmd, effects, spoken_text(voice, word), Path(tmp))
                    gain = gen.uniform(0.3, 0.95)
                    out = args.accented_out if voice.startswith("accented-") else args.out
                    lengths.append(finish(wav, out / word / f"{voice}_nohash_{k}.flac", gain))
    size = sum(p.stat().st_size for folder in (args.out, args.accented_out) for p in folder.rglob("*.flac"))
    voices = {v for jobs, _ in groups for v, _, _, _ in jobs}
    print(f"{len(lengths)} clips, {len(voices)} voices, {size / 1e6:.2f} MB, "
          f"longest {max(lengths) / RATE:.2f} s, mean {np.mean(lengths) / RATE:.2f} s -> {args.out}, "
          f"accented voices -> {args.accented_out}")


if __name__ == "__main__":
    main()
