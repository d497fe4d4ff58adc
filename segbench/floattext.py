"""Many floats as text at once, each exactly as ``float.__repr__`` writes it (a leaf: no segbench imports).

A report's csv or json of a million rows holds some eight million floats; ``float.__repr__`` of each, one Python
call apiece, was the largest part of writing them (about 0.5 us a value here). orjson writes a float64 array in one
C call with the same algorithm's answer: the shortest digits that read back as the same double, so its text of a
value is ``repr``'s. The two differ only in how they write an exponent (``1e-5`` against ``1e-05``, ``1e16``
against ``1e+16``), which repr uses below 1e-4 and from 1e16 up: those values, and the ones orjson writes as
``null`` (NaN and infinities), are written by ``float.__repr__`` one by one. tests/test_floattext.py holds the
text to repr's on generated values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Where repr writes no exponent: [1e-4, 1e16) and zero.
_LOW, _HIGH = 1e-4, 1e16


def reprs(values: np.ndarray | Sequence[float]) -> list[str]:
    """``[float.__repr__(v) for v in values]`` for float64 values (a numpy array or a sequence of floats): 'nan',
    'inf' and '-inf' included."""
    import numpy as np
    import orjson

    a = np.ascontiguousarray(values, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError("reprs takes one column of values")
    if not a.size:
        return []
    texts = orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY).decode("ascii")[1:-1].split(",")
    size = np.abs(a)
    odd = np.flatnonzero(~((size >= _LOW) & (size < _HIGH) | (size == 0.0)))  # NaN compares False: odd too
    if odd.size:
        for i, v in zip(odd.tolist(), a[odd].tolist()):
            texts[i] = float.__repr__(v)
    return texts


# fixed(): below this |value * 10**decimals| the product's rounding error (half an ulp, at most 2**-14 here) cannot
# move a value across the half-way point unless it lies within _TIE of it; those few are written by Python.
_EXACT = float(2 ** 38)
_TIE = 2.0 ** -12


def fixed(values: np.ndarray, decimals: int) -> np.ndarray:
    """``[f"{v:.{decimals}f}" for v in values]`` for float64 values, as an array of ASCII bytes (numpy ``S``: each
    value's text, shorter ones padded with NULs), made without a Python call per value. NaN and the infinities
    come out as Python writes them ('nan', 'inf', '-inf'), and so do the few values near a half-way point and the
    very large ones: those are written by Python itself, so every text is exactly Python's."""
    import numpy as np

    a = np.ascontiguousarray(values, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError("fixed takes one column of values")
    if not 0 <= decimals <= 12:
        raise ValueError("fixed writes 0 to 12 decimals")
    scale = 10.0 ** decimals
    with np.errstate(invalid="ignore", over="ignore"):
        q = a * scale
        whole = np.abs(q) < _EXACT  # NaN compares False: written by Python
        whole &= np.abs(q - np.floor(q) - 0.5) > _TIE
    units = np.abs(np.rint(np.where(whole, q, 0.0))).astype(np.int64)  # 0 for those Python writes
    text = _digits(units, np.signbit(a), decimals)
    odd = np.flatnonzero(~whole)
    if odd.size:
        others = [f"{v:.{decimals}f}".encode("ascii") for v in a[odd].tolist()]
        width = max(text.dtype.itemsize, max(map(len, others)))
        text = text.astype(f"S{width}")
        text[odd] = others
    return text


def integers(values: np.ndarray) -> np.ndarray:
    """``[str(v) for v in values]`` for int64 values, as fixed() gives its text."""
    import numpy as np

    a = np.ascontiguousarray(values, dtype=np.int64)
    if a.ndim != 1:
        raise ValueError("integers takes one column of values")
    low = a == np.iinfo(np.int64).min  # its magnitude is no int64
    text = _digits(np.abs(np.where(low, 0, a)), a < 0, 0)
    if low.any():
        text = text.astype(f"S{max(text.dtype.itemsize, 20)}")
        text[low] = str(np.iinfo(np.int64).min).encode("ascii")
    return text


def _digits(units: np.ndarray, negative: np.ndarray, decimals: int) -> np.ndarray:
    """The text of ``units / 10**decimals`` (non-negative int64 units; a minus sign where ``negative``), left-aligned
    in a numpy ``S`` array: the whole part's digits, then a point and ``decimals`` digits when there are any."""
    import numpy as np

    n = units.size
    if not n:
        return np.zeros(0, dtype="S1")
    scale = 10 ** decimals
    whole, part = np.divmod(units, scale)
    ndigits = np.ones(n, dtype=np.int64)
    power = 10
    top = int(whole.max())
    while power <= top:
        ndigits += whole >= power
        power *= 10
    sign = negative.astype(np.int64)
    lengths = sign + ndigits + (decimals + 1 if decimals else 0)
    width = int(lengths.max())
    out = np.zeros((n, width), dtype=np.uint8)
    rows = np.arange(n)
    out[rows[negative], 0] = ord("-")
    rest = whole.copy()
    for k in range(int(ndigits.max())):  # the k-th digit from the right, where the number has one
        has = ndigits > k
        out[rows[has], (sign + ndigits - 1 - k)[has]] = (rest[has] % 10 + 48).astype(np.uint8)
        rest //= 10
    if decimals:
        point = sign + ndigits
        out[rows, point] = ord(".")
        for k in range(decimals):
            out[rows, point + decimals - k] = (part % 10 + 48).astype(np.uint8)
            part //= 10
    return out.view(f"S{width}").ravel()
