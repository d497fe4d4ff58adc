"""The methods ``@dataclass(frozen=True)`` writes for a value type, written once (a leaf: no segbench imports).

dataclasses generates ``__repr__``, ``__eq__`` and ``__hash__`` for every class as source text and compiles it when
the class is created: for the ten classes of segbench.model that is 30 compilations and about 2.7 ms of every
start-up (`segbench report`, bench/startup.py). A class declared

    @dataclass(frozen=True, repr=False, eq=False)
    class Thing(Frozen):
        ...

has ``__init__`` and the frozen ``__setattr__``/``__delattr__`` from dataclasses as before, and these three from
Frozen, which give what dataclasses' would for every field: the same text (``Thing(a=1, b='x')``, ``...`` for a
value that contains itself), equal exactly when the other is of the very same class with equal fields in order
(NotImplemented otherwise), and the same hash (of the tuple of fields; unhashable when a field is). Fields declared
with ``field(repr=False)``, ``compare=False`` or ``hash=`` are left out as dataclasses leaves them out.
``asdict`` is ``dataclasses.asdict`` without its deepcopy of every str and number (a report of a farm's history
turns a thousand RunInfos into json: 0.8 s with dataclasses'). tests/test_frozen.py holds each class of
segbench.model to the methods dataclasses writes, and asdict to dataclasses'.
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import reprlib
from collections.abc import Callable
from typing import Any

_Key = Callable[[Any], tuple]
# class -> (the names its repr shows, its fields for ==, its fields for hash); made on a class's first use.
_PLANS: dict[type, tuple[tuple[str, ...], _Key, _Key]] = {}


def _key(names: list[str]) -> _Key:
    """The values of ``names`` as a tuple, as dataclasses' ``(self.a, self.b,)`` makes it."""
    if len(names) > 1:
        return operator.attrgetter(*names)  # a C call: a tuple, in order
    if names:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return lambda obj: ()


def _plan(cls: type) -> tuple[tuple[str, ...], _Key, _Key]:
    plan = _PLANS.get(cls)
    if plan is None:
        fields = dataclasses.fields(cls)
        plan = (tuple(f.name for f in fields if f.repr),
                _key([f.name for f in fields if f.compare]),
                _key([f.name for f in fields if (f.compare if f.hash is None else f.hash)]))
        _PLANS[cls] = plan
    return plan


class Frozen:
    """Base of a ``@dataclass(frozen=True, repr=False, eq=False)``: repr, == and hash as dataclasses writes them."""

    __slots__ = ()

    @reprlib.recursive_repr()  # as dataclasses' own guard: "..." for a value inside itself
    def __repr__(self) -> str:
        names = _plan(self.__class__)[0]
        return self.__class__.__qualname__ + "(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = _plan(self.__class__)[1]
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_plan(self.__class__)[2](self))


_ATOMS = frozenset((str, int, float, bool, type(None), bytes, complex))  # what deepcopy gives back as it is
_FIELDS: dict[type, tuple[str, ...]] = {}


def asdict(obj: Any) -> Any:
    """``dataclasses.asdict(obj)``: dataclasses as dicts of their fields, recursively through lists, tuples and
    dicts (their own types kept, named tuples too), anything else deep-copied; strs and numbers, which deepcopy
    would return as they are, are not copied at all."""
    t = type(obj)
    if t in _ATOMS:
        return obj
    if t is dict:
        return {asdict(k): asdict(v) for k, v in obj.items()}
    if t is list:
        return [asdict(v) for v in obj]
    if t is tuple:
        return tuple([asdict(v) for v in obj])
    names = _FIELDS.get(t)
    if names is None and dataclasses.is_dataclass(t):
        names = _FIELDS[t] = tuple(f.name for f in dataclasses.fields(t))
    if names is not None:
        return {name: asdict(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return t(*[asdict(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return t(asdict(v) for v in obj)
    if isinstance(obj, dict):
        if hasattr(t, "default_factory"):  # a defaultdict
            out = t(obj.default_factory)
            for k, v in obj.items():
                out[asdict(k)] = asdict(v)
            return out
        return t((asdict(k), asdict(v)) for k, v in obj.items())
    return copy.deepcopy(obj)
