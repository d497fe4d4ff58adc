"""The methods ``@dataclass(frozen=True)`` writes for a value type, written once (a leaf: no segbench imports).

dataclasses generates ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and the frozen ``__setattr__`` and
``__delattr__`` for every class as source text and compiles it when the class is created: for the ten classes of
segbench.model that was 60 compilations and about 8 ms of every start-up (`segbench report`, bench/startup.py).
A class declared

    @value
    class Thing(Frozen):
        ...

is a dataclass (fields, ``dataclasses.replace``, ``asdict``) whose six methods all come from Frozen, each giving
what dataclasses' would for every field: ``__init__`` takes the same arguments (positional in field order, or by
name; defaults and default factories; ``__post_init__`` called when the class has one) and raises the same
TypeErrors; fields cannot be set or deleted (FrozenInstanceError, with dataclasses' text); the same repr
(``Thing(a=1, b='x')``, ``...`` for a value that contains itself); equal exactly when the other is of the very same
class with equal fields in order (NotImplemented otherwise); the same hash (of the tuple of fields; unhashable when
a field is). Fields declared with ``field(repr=False)``, ``compare=False``, ``hash=`` or ``init=False`` are treated
as dataclasses treats them; ``InitVar`` and ``kw_only`` fields are refused. ``asdict`` is ``dataclasses.asdict``
without its deepcopy of every str and number (a report of a farm's history turns a thousand RunInfos into json:
0.8 s with dataclasses'). tests/test_frozen.py holds each class of segbench.model to a stock frozen dataclass of
the same fields (every method, the TypeErrors' texts, the signature), and asdict to dataclasses'.
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


# class -> (its __init__'s names in order, those as a set, (name, default) and (name, factory) of the fields that have
# one, every field's name in order, __post_init__ or None); made on a class's first instance.
_Init = tuple[tuple[str, ...], frozenset, tuple[tuple[str, Any], ...], tuple[tuple[str, Callable[[], Any]], ...],
              tuple[str, ...], Any]
_INITS: dict[type, _Init] = {}


def _init_plan(cls: type) -> _Init:
    plan = _INITS.get(cls)
    if plan is None:
        fields = dataclasses.fields(cls)
        # fields() leaves out the pseudo-fields: ClassVars, which __init__ ignores too, and InitVars.
        pseudo = [f for name, f in cls.__dataclass_fields__.items() if name not in {f.name for f in fields}]
        if any("InitVar" in str(f.type) for f in pseudo) or any(f.kw_only for f in fields):
            raise TypeError(f"{cls.__qualname__}: Frozen's __init__ takes no InitVar or kw_only field")
        names = tuple(f.name for f in fields if f.init)
        plan = (names, frozenset(names),
                # an init=False field with a plain default is not set: the class attribute is read, as there
                tuple((f.name, f.default) for f in fields if f.default is not dataclasses.MISSING and f.init),
                tuple((f.name, f.default_factory) for f in fields if f.default_factory is not dataclasses.MISSING),
                tuple(f.name for f in fields), getattr(cls, "__post_init__", None))
        _INITS[cls] = plan
    return plan


def _bad_arguments(cls: type, names: tuple[str, ...], args: tuple, kwargs: dict[str, Any]) -> TypeError:
    """The TypeError Python raises when the __init__ dataclasses writes for cls is called with these arguments,
    with the same text: a keyword it does not take or one given twice (in the keywords' order), then too many
    positional arguments, then the missing ones."""
    where = f"{cls.__qualname__}.__init__()"
    given = names[:len(args)]
    for key in kwargs:
        if key not in names:
            return TypeError(f"{where} got an unexpected keyword argument {key!r}")
        if key in given:
            return TypeError(f"{where} got multiple values for argument {key!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    optional = sum(1 for n in names if fields[n].default is not dataclasses.MISSING
                   or fields[n].default_factory is not dataclasses.MISSING)
    if len(args) > len(names):
        most = len(names) + 1  # self counts, as in Python's own message
        takes = f"from {most - optional} to {most}" if optional else str(most)
        plural = "s" if optional or most != 1 else ""
        return TypeError(f"{where} takes {takes} positional argument{plural} but {len(args) + 1} were given")
    missing = [repr(n) for n in names[len(args):len(names) - optional] if n not in kwargs]
    listed = missing[0] if len(missing) == 1 else (
        " and ".join(missing) if len(missing) == 2 else ", ".join(missing[:-1]) + ", and " + missing[-1])
    plural = "s" if len(missing) > 1 else ""
    return TypeError(f"{where} missing {len(missing)} required positional argument{plural}: {listed}")


class _Signature:
    """``inspect.signature(cls)`` as dataclasses' __init__ gives it (help() and editors show it), made when asked."""

    def __get__(self, obj: object, cls: type) -> Any:
        import inspect

        if obj is not None or not dataclasses.is_dataclass(cls):
            raise AttributeError("__signature__")

        class _Factory:
            def __repr__(self) -> str:
                return "<factory>"  # dataclasses' own mark of a default made by a factory

        factory = _Factory()
        P = inspect.Parameter
        return inspect.Signature([
            P(f.name, P.POSITIONAL_OR_KEYWORD, annotation=f.type,
              default=f.default if f.default is not dataclasses.MISSING
              else factory if f.default_factory is not dataclasses.MISSING else P.empty)
            for f in dataclasses.fields(cls) if f.init], return_annotation=None)


class Frozen:
    """Base of a ``@value`` class: the methods @dataclass(frozen=True) writes, as dataclasses writes them."""

    __slots__ = ()
    __signature__ = _Signature()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = self.__class__
        names, accepted, defaults, factories, order, post_init = _INITS.get(cls) or _init_plan(cls)
        values = dict(zip(names, args))
        if len(args) > len(names) or kwargs and (
                not accepted.issuperset(kwargs) or args and not values.keys().isdisjoint(kwargs)):
            raise _bad_arguments(cls, names, args, kwargs)
        values.update(kwargs)
        if len(values) != len(order):
            for name, default in defaults:
                if name not in values:
                    values[name] = default
            for name, make in factories:
                if name not in values:
                    values[name] = make()
            if not values.keys() >= accepted:
                raise _bad_arguments(cls, names, args, kwargs)
        # One dict in the fields' order, as dataclasses' __init__ leaves it (a field declared init=False without a
        # default is left unset, as there).
        object.__setattr__(self, "__dict__", {name: values[name] for name in order if name in values})
        if post_init is not None:
            post_init(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

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


def value(cls: type) -> type:
    """``@dataclass(frozen=True)`` for a Frozen subclass, with none of its methods compiled (see the module's text)."""
    if not issubclass(cls, Frozen):
        raise TypeError(f"{cls.__qualname__}: @value is for subclasses of Frozen")
    return dataclasses.dataclass(cls, init=False, repr=False, eq=False)


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
