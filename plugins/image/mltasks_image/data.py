"""Images in memory: decoding with Pillow, resizing to the network input, and the ImageSet container.

Every image is decoded once, converted to RGB (grey and RGBA included), resized so that its
shorter side is ``size`` and centre-cropped to ``size x size``. Training augmentation later
works on these uint8 arrays; evaluation uses them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mltasks.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


@dataclass
class ImageSet:
    """A labelled (or unlabelled) set of equally sized RGB images.

    :param images: ``(N, S, S, 3)`` uint8.
    :param labels: ``(N,)`` int64 class indices into ``classes`` (-1 when unknown).
    :param classes: the class names, in index order.
    :param paths: where each image came from (a file path, or ``default:test/17``).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: Sequence[int] | np.ndarray) -> ImageSet:
        """The images at ``index`` (same classes)."""
        index = np.asarray(index, dtype=np.int64)
        paths = [self.paths[i] for i in index] if self.paths else []
        return ImageSet(self.images[index], self.labels[index], list(self.classes), paths)

    def fingerprint(self) -> str:
        """SHA-256 of the pixels (content address of the feature cache)."""
        from mltasks.cache import content_key

        return content_key(str(self.images.shape), memoryview(np.ascontiguousarray(self.images)).cast("B"))


def open_image(path: Path | str) -> object:
    """Decode an image file fully into an RGB ``PIL.Image``.

    :raises DataError: the file is missing, not an image, corrupt or truncated (names the file).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            if img.mode in ("RGBA", "LA", "P"):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(white, rgba).convert("RGB")
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{path}: no such image file") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image Pillow can read (corrupt or unsupported format)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: corrupt or truncated image ({exc})") from None


def fit_square(img: object, size: int) -> np.ndarray:
    """Resize a PIL image so that its shorter side is ``size``, centre-crop to a square.

    :returns: ``(size, size, 3)`` uint8.
    """
    from PIL import Image

    assert isinstance(img, Image.Image)
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def grey_to_set(images: np.ndarray, labels: np.ndarray, classes: list[str], size: int, prefix: str) -> ImageSet:
    """Build an ImageSet from an ``(N, H, W)`` uint8 grey array (the embedded Fashion-MNIST)."""
    from PIL import Image

    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = fit_square(Image.fromarray(image, mode="L").convert("RGB"), size)
    return ImageSet(out, labels.astype(np.int64), classes, [f"{prefix}/{i}" for i in range(len(images))])


def load_files(
    paths: Sequence[Path], labels: Sequence[int], classes: list[str], size: int, *, skip_bad: bool,
    warn: Callable[[str], None] | None = None,
) -> ImageSet:
    """Decode image files into an ImageSet.

    :param skip_bad: skip unreadable images with a warning; otherwise the first one raises.
    :raises DataError: an unreadable image (without ``skip_bad``), or nothing readable left.
    """
    warn = warn or _warn
    images, kept_labels, kept_paths = [], [], []
    for path, label in zip(paths, labels, strict=True):
        try:
            images.append(fit_square(open_image(path), size))
        except DataError as exc:
            if not skip_bad:
                raise DataError(f"{exc} (use --set skip_bad_images=true to skip such files)") from None
            warn(f"skipping {exc}")
            continue
        kept_labels.append(label)
        kept_paths.append(str(path))
    if not images:
        where = Path(paths[0]).parent if paths else "the data"
        raise DataError(f"{where}: no readable images")
    stacked = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return ImageSet(stacked, np.asarray(kept_labels, dtype=np.int64), classes, kept_paths)


def _warn(message: str) -> None:
    """Tell the user (stderr) and the run log, as ``Progress.warn`` does."""
    from mltasks import Progress

    Progress(enabled=False).warn(message)
