"""mltasks-speech: spoken-word recognition and CTC transcription (hook implementation only;
the task is imported when it runs)."""

from __future__ import annotations

from mltasks import TaskSpec, hookimpl


@hookimpl
def register_tasks(register):  # type: ignore[no-untyped-def]
    """Register the speech task."""
    register(
        TaskSpec(
            name="speech",
            summary="spoken-word recognition from WAV folders (CNN / M5), and CTC transcription from a manifest",
            task="mltasks_speech.task:SpeechTask",
            config="mltasks_speech.config:SpeechConfig",
            data_formats=[
                "a folder <word>/*.wav (Speech Commands layout), with optional validation_list.txt / "
                "testing_list.txt, or train/ val/ test/ sub-folders; otherwise split by speaker "
                "(<speaker>_nohash_<n>.wav) so no voice is in two splits",
                "a flat folder of <digit>_<speaker>_<n>.wav (Free Spoken Digit Dataset)",
                "WAV (8/16/24/32-bit PCM, float, mono or stereo, any rate), FLAC or OGG; resampled to 16 kHz",
                "mode=transcribe: a manifest CSV path,transcript (optional split, speaker columns), or a "
                "folder with manifest.csv or train.csv/val.csv/test.csv",
            ],
            default_data="spoken digits zero..nine by 76 synthetic voices (espeak-ng, flite, Festival; the "
            "flite/Festival ones from 5 recorded English speakers, plus 8 speakers of other languages with an "
            "accent, training only), shipped in the plugin; mode=transcribe strings the "
            "espeak-ng and flite ones into connected-digit utterances",
            requires=["torch", "torchaudio", "soundfile", "sklearn", "safetensors"],
        )
    )
