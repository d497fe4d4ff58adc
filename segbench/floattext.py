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
