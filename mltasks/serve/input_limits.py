"""Per-request input limits: how many inputs, how many pixels an image, how many seconds a clip.

Each limit is answered 413 with a message that names the input, its size, the limit and
the ``mltasks serve`` option that sets it, before the model sees anything. The body's
bytes are limited while it is read (:mod:`mltasks.serve.limits`). Sizes are read from file
headers only (Pillow's lazy open, the WAV header, ``soundfile.info``), never by decoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from mltasks.serve.failures import ClientError
from mltasks.serve.warmup import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from mltasks.serve.application import Settings

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def check_count(count: int, settings: Settings) -> None:
    """413 when a request holds more than ``max_inputs`` inputs."""
    if count > settings.max_inputs:
        raise ClientError(413, f"{count} inputs in one request, more than the limit of {settings.max_inputs} "
                               "(max_inputs; mltasks serve --max-inputs): split the request")


def check_file(file: BinaryIO, suffix: str, name: str, settings: Settings) -> None:
    """413 when the image in ``file`` has more than ``max_image_pixels`` pixels or the audio clip
    lasts longer than ``max_audio_seconds``. ``name`` is the client's name for the file, ``suffix``
    its lower-case suffix; ``file`` is read from its start and left at its start.

    A file whose header cannot be read passes: the task reports it (400) when it reads it.
    """
    limit = (f"the limit of {settings.max_image_pixels} (max_image_pixels; mltasks serve --max-image-pixels)")
    if suffix in IMAGE_SUFFIXES:
        try:
            size = image_size(file)
        except OverflowError:  # Pillow's own decompression-bomb guard refused to open it
            raise ClientError(413, f"{name}: more pixels than Pillow opens, more than {limit}") from None
        if size is not None and size[0] * size[1] > settings.max_image_pixels:
            raise ClientError(413, f"{name}: {size[0]}x{size[1]} = {size[0] * size[1]} pixels, more than {limit}")
    elif suffix in AUDIO_SUFFIXES:
        seconds = audio_seconds(file, suffix)
        if seconds is not None and seconds > settings.max_audio_seconds:
            raise ClientError(413, f"{name}: {seconds:.1f} s of audio, more than the limit of "
                                   f"{settings.max_audio_seconds:g} s (max_audio_seconds; mltasks serve "
                                   "--max-audio-seconds)")


def image_size(file: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from the image's header, or ``None`` when Pillow is missing or cannot read it.

    :raises OverflowError: Pillow refuses to open it as a decompression bomb.
    """
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(file) as image:  # lazy: reads the header only; leaves a file it did not open open
            return int(image.size[0]), int(image.size[1])
    except Image.DecompressionBombError as exc:
        raise OverflowError(str(exc)) from None
    except Exception:  # not an image Pillow knows: the task says so
        return None
    finally:
        file.seek(0)


def audio_seconds(file: BinaryIO, suffix: str) -> float | None:
    """Duration from the clip's header (WAV with the standard library, others with soundfile),
    or ``None`` when it cannot be read."""
    try:
        if suffix == ".wav":
            import wave

            try:
                with wave.open(file, "rb") as fh:  # type: ignore[arg-type]
                    return fh.getnframes() / float(fh.getframerate() or 1)
            except (wave.Error, EOFError, OSError):
                file.seek(0)  # WAVE_FORMAT_EXTENSIBLE, float WAV...: soundfile may know it
        try:
            import soundfile
        except ImportError:
            return None
        try:
            return float(soundfile.info(file).duration)
        except Exception:  # not audio soundfile knows: the task says so
            return None
    finally:
        file.seek(0)
