"""Dataset layouts: which (image, label) pairs to evaluate, and each label file as class ids.

Listing gives paths only and labels are read one at a time, so memory does not grow with the
dataset. The layouts are the ones the datasets ship in:

- ``ade20k`` / ``ade20k32``: ``ADEChallengeData2016/images/<split>/*.jpg`` and
  ``annotations/<split>/<stem>.png`` (split ``validation``).
- ``cityscapes``: ``leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` and
  ``gtFine/<split>/<city>/<stem>_gtFine_labelIds.png`` (split ``val``).
- ``voc``: ``VOC2012/JPEGImages/<id>.jpg`` and ``SegmentationClass/<id>.png`` for the ids listed in
  ``ImageSets/Segmentation/<split>.txt`` (split ``val``) or in ``--image-list FILE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segbench.accuracy import labelmap
from segbench.accuracy.labelmap import LabelMap
from segbench.errors import InputError, UsageError
from segbench.vocab import DATASET_FORMATS  # offered by `segbench eval --format` without numpy

FORMATS = DATASET_FORMATS
DEFAULT_SPLIT = {"ade20k": "validation", "ade20k32": "validation", "cityscapes": "val", "voc": "val"}
DEFAULT_MAPPING = "ade20k32_mlperf"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Sample:
    id: str
    image: Path
    label: Path


@dataclass(frozen=True)
class Dataset:
    format: str
    root: Path
    split: str
    label_map: LabelMap
    samples: tuple[Sample, ...]


def open_dataset(fmt: str, root: Path, split: str | None = None, mapping: Path | None = None,
                 image_list: Path | None = None) -> Dataset:
    """The samples of a dataset directory in layout ``fmt``; raises InputError/UsageError with what is wrong."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown dataset format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if not root.is_dir():
        raise UsageError(f"--dataset {root}: {'not a directory' if root.exists() else 'no such directory'}")
    if mapping is not None and fmt != "ade20k32":
        raise UsageError("--mapping is for --format ade20k32 only")
    if image_list is not None and fmt != "voc":
        raise UsageError("--image-list is for --format voc only")
    split = split or DEFAULT_SPLIT[fmt]
    if fmt == "voc":
        base = _find_root(root, ("JPEGImages",), ("VOC2012", "VOCdevkit/VOC2012"), fmt)
        samples = _voc_samples(base, split, image_list)
    elif fmt == "cityscapes":
        base = _find_root(root, ("leftImg8bit", "gtFine"), ("cityscapes",), fmt)
        samples = _cityscapes_samples(base, split)
    else:
        base = _find_root(root, ("images", "annotations"), ("ADEChallengeData2016",), fmt)
        samples = _ade_samples(base, split)
    if not samples:
        raise InputError(f"{base}: no images to evaluate in split {split!r}")
    return Dataset(fmt, base, split, _label_map(fmt, mapping), tuple(samples))


def _label_map(fmt: str, mapping: Path | None) -> LabelMap:
    if fmt == "ade20k":
        return labelmap.ade20k()
    if fmt == "cityscapes":
        return labelmap.cityscapes()
    if fmt == "voc":
        return labelmap.voc()
    return labelmap.read_mapping(mapping or labelmap.shipped(DEFAULT_MAPPING))


def _find_root(root: Path, needs: tuple[str, ...], nested: tuple[str, ...], fmt: str) -> Path:
    """``root`` itself, or the dataset's usual directory inside it, whichever holds ``needs``."""
    for candidate in (root, *(root / n for n in nested)):
        if all((candidate / n).is_dir() for n in needs):
            return candidate
    raise InputError(
        f"--dataset {root}: not a {fmt} layout (no {' and '.join(n + '/' for n in needs)} in it)",
        hint="see docs/eval.md for each layout",
    )


def _split_dir(path: Path, split: str) -> Path:
    if not path.is_dir():
        have = sorted(p.name for p in path.parent.iterdir() if p.is_dir()) if path.parent.is_dir() else []
        raise InputError(f"{path}: no such split directory", hint=f"--split one of: {', '.join(have) or 'none found'}")
    return path


def _pair(images: list[Path], label_of: Callable[[Path], Path], ident: Callable[[Path], str]) -> list[Sample]:
    samples = [Sample(ident(p), p, label_of(p)) for p in images]
    missing = [s for s in samples if not s.label.is_file()]
    if missing:
        raise InputError(f"{len(missing)} of {len(samples)} images have no label file, e.g. {missing[0].label}")
    return samples


def _ade_samples(base: Path, split: str) -> list[Sample]:
    img_dir = _split_dir(base / "images" / split, split)
    ann_dir = base / "annotations" / split
    images = sorted(p for p in img_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return _pair(images, lambda p: ann_dir / f"{p.stem}.png", lambda p: p.stem)


def _cityscapes_samples(base: Path, split: str) -> list[Sample]:
    img_dir = _split_dir(base / "leftImg8bit" / split, split)
    gt_dir = base / "gtFine" / split
    images = sorted(img_dir.glob("*/*_leftImg8bit.png"))

    def label_of(p: Path) -> Path:
        return gt_dir / p.parent.name / p.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png")

    return _pair(images, label_of, lambda p: p.name.removesuffix("_leftImg8bit.png"))


def _voc_samples(base: Path, split: str, image_list: Path | None) -> list[Sample]:
    listing = image_list or base / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not listing.is_file():
        raise InputError(f"{listing}: no such image list", hint="give --split NAME (ImageSets/Segmentation/NAME.txt) or --image-list FILE")
    try:
        ids = [line.split()[0] for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{listing}: cannot read the image list ({exc})") from None
    images = []
    for ident in ids:
        found = [base / "JPEGImages" / f"{ident}{s}" for s in IMAGE_SUFFIXES]
        hit = next((p for p in found if p.is_file()), None)
        if hit is None:
            raise InputError(f"{listing}: lists {ident!r}, but {found[0]} does not exist")
        images.append(hit)
    return _pair(images, lambda p: base / "SegmentationClass" / f"{p.stem}.png", lambda p: p.stem)


def read_label(path: Path, label_map: LabelMap) -> np.ndarray:
    """Class ids (uint8, 255 ignored) of one label PNG, read as stored: palette indices, not colours."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("L", "P", "I;16", "I;16B", "I;16L", "I"):
                raw = np.asarray(img)
            else:
                raise InputError(
                    f"{path}: label is a {mode} image; labels are class-index PNGs (8-bit gray or palette)",
                    hint="use the dataset's original annotation files, not colour renderings",
                )
    except UnidentifiedImageError:
        raise InputError(f"{path}: label is not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: corrupt or truncated label ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if raw.ndim != 2 or raw.size == 0:
        raise InputError(f"{path}: label has shape {list(raw.shape)}; expected a non-empty 2-D class map")
    if raw.dtype.kind == "i" and (raw.min() < 0 or raw.max() >= labelmap.LUT_SIZE):
        raise InputError(f"{path}: label values outside 0..{labelmap.LUT_SIZE - 1}")
    return label_map.apply(raw.astype(np.uint16, copy=False), path)
