"""Voice families of the embedded digits, and the people behind them, for leave-one-family-out.

A family is what a user's new voices may differ by as a whole: one espeak-ng accent (its
variants are one synthesiser with one set of pronunciation rules), one engine of recorded
people (flite, Festival), or one language of the accented speakers (Czech, Finnish, Catalan,
Russian). Holding a family out removes from training every voice of the people in it too
(``flite-kal`` and ``festival-kal`` are one man), so no person is heard on both sides.
"""

from __future__ import annotations

import re

from mltasks_speech.default_data import ACCENTED, RECORDED, engine_of, speaker_of_voice

#: espeak-ng accents, most specific first (``en-us-nyc`` before ``en-us``); the rest are ``en`` (British).
ESPEAK_ACCENTS = ("029", "gb-scotland", "gb-x-gbclan", "gb-x-gbcwmd", "gb-x-rp", "us-nyc", "us")
_SHIFT = re.compile(r"-(hi|lo)$")


def family_of(voice: str) -> str:
    """``espeak-en-us-nyc-paul`` -> ``espeak-us-nyc``; ``flite-kal-hi`` -> ``flite``;
    ``accented-cs-machac`` -> ``accented-cs``."""
    engine, _, rest = voice.partition("-")
    if engine == ACCENTED:
        return f"{ACCENTED}-{rest.split('-')[0]}"
    if engine in RECORDED:
        return engine
    accent = rest[3:] if rest.startswith("en-") else rest
    for prefix in ESPEAK_ACCENTS:
        if accent.startswith(prefix + "-"):
            return f"{engine}-{prefix}"
    return f"{engine}-en"


def person_of(voice: str) -> str:
    """The person behind a voice: recorded voices by their speaker (``cmu-kal``), a pitch-shifted
    variant as the voice it was made from, an espeak-ng voice as itself."""
    return _SHIFT.sub("", speaker_of_voice(voice)) if engine_of(voice) == ACCENTED else speaker_of_voice(voice)


def is_variant(voice: str) -> bool:
    """Whether a voice is a pitch-shifted copy of a recorded or accented person (``-hi``/``-lo``)."""
    return engine_of(voice) in (*RECORDED, ACCENTED) and bool(_SHIFT.search(voice))


def coarse_family_of(voice: str) -> str:
    """The engine-level family: ``espeak``, ``recorded`` (flite and Festival) or ``accented``."""
    engine = engine_of(voice)
    return "recorded" if engine in RECORDED else engine
