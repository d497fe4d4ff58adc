"""A function of each value of a long column, computed once per distinct value (a leaf: no segbench imports).

A report of a farm's history repeats a few texts a million times (the model names, a device, a status, a note on
every row of one name): its json and csv writers turn each into text through here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def each_once(values: Sequence[Any], fn: Callable[[Any], T]) -> list[T]:
    """``[fn(v) for v in values]``, with ``fn`` called once per distinct value when there are few of them (at most a
    quarter as many as values). The values must be hashable and of kinds whose equal values ``fn`` takes alike
    (texts, or ints and None; not 1 beside 1.0 or True, which are equal keys)."""
    distinct = dict.fromkeys(values)
    if len(distinct) * 4 > len(values):
        return list(map(fn, values))
    return list(map({v: fn(v) for v in distinct}.__getitem__, values))
