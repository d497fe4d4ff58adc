"""Label maps: raw label values as stored in a dataset's PNGs -> evaluated class ids (or ignore).

A LabelMap is a 65536-entry lookup table, so mapping a whole label image is one numpy indexing
operation. Raw values a layout does not define are ``INVALID``: a label holding one is reported as
corrupt instead of being silently ignored. Class ids are 0..254; 255 is the ignore index.

Mapping files (``--mapping FILE``, and the shipped ``mappings/*.txt``) are text, one rule a line::

    # comment
    <raw>[-<raw_last>]  <class id | ignore>  [class name ...]

Raw values that no line names are ignored. Classes that no raw value maps to are not evaluated
(they get no IoU), which is how MLPerf's ADE20K-32 leaves out its "other" class 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segbench.errors import InputError, UsageError

IGNORE = 255
INVALID = 0xFFFF
LUT_SIZE = 1 << 16
MAPPINGS_DIR = Path(__file__).parent / "mappings"


@dataclass(frozen=True)
class LabelMap:
    """``lut[raw]`` is the class id, IGNORE, or INVALID; ``classes[i]`` names class i (None: not evaluated)."""

    name: str
    lut: np.ndarray
    classes: tuple[str | None, ...]
    source: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def apply(self, raw: np.ndarray, where: Path) -> np.ndarray:
        """Class ids (uint8, 255 = ignore) of a raw label array; values outside the layout raise InputError."""
        mapped = self.lut[raw]
        bad = mapped == INVALID
        if bad.any():
            values = np.unique(raw[bad])
            shown = ", ".join(str(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
            raise InputError(
                f"{where}: label values {shown} are not {self.name} labels ({int(bad.sum())} pixels)",
                hint="is this the right --format, and a class-index PNG rather than a colour image?",
            )
        return mapped.astype(np.uint8)


def _lut(pairs: dict[int, int], ignored: frozenset[int] | set[int] = frozenset(), default: int = INVALID) -> np.ndarray:
    lut = np.full(LUT_SIZE, default, dtype=np.uint16)
    for raw in ignored:
        lut[raw] = IGNORE
    for raw, cls in pairs.items():
        lut[raw] = cls
    return lut


def ade20k() -> LabelMap:
    """0 = "other objects" is ignored and 1..150 become 0..149 (reduce_zero_label, as mmseg/PaddleSeg do)."""
    from segbench.accuracy.classes import ADE20K_CLASSES

    return LabelMap("ADE20K", _lut({v: v - 1 for v in range(1, 151)}, {0}), ADE20K_CLASSES)


def cityscapes() -> LabelMap:
    """gtFine labelIds -> the 19 trainIds; the other labelIds are ignored."""
    from segbench.accuracy.classes import CITYSCAPES_CLASSES, CITYSCAPES_LABEL_IDS, CITYSCAPES_TRAIN_IDS

    ignored = set(CITYSCAPES_LABEL_IDS) - set(CITYSCAPES_TRAIN_IDS)
    return LabelMap("Cityscapes", _lut(CITYSCAPES_TRAIN_IDS, ignored), CITYSCAPES_CLASSES)


def voc() -> LabelMap:
    """SegmentationClass palette indices 0..20 are the classes; 255 (object borders) is ignored."""
    from segbench.accuracy.classes import VOC_CLASSES

    return LabelMap("Pascal VOC", _lut({v: v for v in range(21)}, {IGNORE}), VOC_CLASSES)


def shipped(name: str) -> Path:
    return MAPPINGS_DIR / f"{name}.txt"


def shipped_names() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.txt"))


def read_mapping(path: Path, name: str = "ADE20K-32") -> LabelMap:
    """A LabelMap from a mapping file; unlisted raw values are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--mapping {path}: no such file", hint=f"shipped mappings: {', '.join(shipped_names())}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--mapping {path}: cannot read it ({exc})") from None
    pairs: dict[int, int] = {}
    ignored: set[int] = set()
    names: dict[int, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        first, last, target, label = _parse_rule(fields, path, lineno)
        for raw in range(first, last + 1):
            if raw in pairs or raw in ignored:
                raise UsageError(f"{path}:{lineno}: raw label {raw} is mapped twice")
            if target is None:
                ignored.add(raw)
            else:
                pairs[raw] = target
        if target is not None and label:
            names.setdefault(target, label)
    if not pairs:
        raise UsageError(f"{path}: no mapping rules in it", hint="write lines like `1 1 wall` (raw label, class id, name)")
    n = max(pairs.values()) + 1
    used = set(pairs.values())
    classes = tuple((names.get(c) or f"class {c}") if c in used else None for c in range(n))
    return LabelMap(name, _lut(pairs, ignored, default=IGNORE), classes, str(path))


def _parse_rule(fields: list[str], path: Path, lineno: int) -> tuple[int, int, int | None, str]:
    where = f"{path}:{lineno}"
    if len(fields) < 2:
        raise UsageError(f"{where}: expected `<raw>[-<raw_last>] <class id|ignore> [name]`, got {' '.join(fields)!r}")
    try:
        lo, _, hi = fields[0].partition("-")
        first, last = int(lo), int(hi or lo)
        target = None if fields[1].lower() == "ignore" else int(fields[1])
    except ValueError:
        raise UsageError(f"{where}: not numbers: {' '.join(fields[:2])!r}") from None
    if not 0 <= first <= last < LUT_SIZE:
        raise UsageError(f"{where}: raw label range {fields[0]} must be within 0..{LUT_SIZE - 1}")
    if target is not None and not 0 <= target < IGNORE:
        raise UsageError(f"{where}: class id {target} must be within 0..{IGNORE - 1} (255 is the ignore index)")
    return first, last, target, " ".join(fields[2:])
