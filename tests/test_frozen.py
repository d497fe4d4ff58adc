"""segbench.frozen.Frozen gives segbench.model's classes the methods @dataclass(frozen=True) writes (__init__ and its
TypeErrors, the frozen setattr/delattr, repr, ==, hash, the signature): each class is compared with a stock frozen
dataclass of the same fields, on the same values."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from segbench import model
from segbench.frozen import Frozen, value

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

PHONE = model.DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", cpu_max_khz={0: 1785600, 7: 2841600},
                         extra={"k": [1, 2]})
REF = model.ModelRef("tiny_seg", "/m/tiny seg.tflite", "tflite", "a" * 64, ("x.pdiparams",), ("b" * 64,))
TENSOR = model.TensorInfo("x", (1, 3, None, "w"), "float32", "nchw", 0.5, 3)
SAMPLES = [
    REF,
    model.ModelRef("n", "p", "onnx"),
    model.Architecture("topformer_tiny [argmax] 64x64", "onnx", "none", "manifest"),
    TENSOR,
    model.Latency(avg=1.5, median=float("nan")),
    model.Case(REF, "tflite", 4, "high", 1, 30, input_path="in.bin", backend="gpu", launch=2),
    PHONE,
    model.Measurement(run_id="r", case_id="c", model=REF, runtime="tflite", status="ok", threads=2,
                      latency_ms=model.Latency(avg=2.0), samples_ms=(1.0, 2.5), extra={"note": "x'y\"z"}),
    model.Accuracy(run_id="r", case_id="e", model=REF, runtime="tflite", status="ok", dataset={"name": "ADE20K"},
                   miou=0.36, per_class_iou=(0.1, None), confusion=((1, 2), (3, 4))),
    model.RunInfo(run_id="r", started="2026-01-01T00:00:00+00:00", harness_version="t", device=PHONE, settings={},
                  devices=(PHONE,)),
    model.ModelInfo(path="/m/x.onnx", format="onnx", file_size=10, sha256="c" * 64, inputs=(TENSOR,), params=7),
]
CLASSES = {type(x) for x in SAMPLES}


def stock(cls: type) -> type:
    """A frozen dataclass as dataclasses writes it, with cls's fields (names, defaults, repr/compare/hash flags) and
    cls's name, so that its repr reads the same."""
    spec = []
    for f in dataclasses.fields(cls):
        kw = {"repr": f.repr, "compare": f.compare, "hash": f.hash}
        if f.default is not dataclasses.MISSING:
            kw["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            kw["default_factory"] = f.default_factory
        spec.append((f.name, f.type, field(**kw)))
    return dataclasses.make_dataclass(cls.__name__, spec, frozen=True)


STOCK = {cls: stock(cls) for cls in CLASSES}


def as_stock(obj: object) -> object:
    return STOCK[type(obj)](**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})


def test_every_class_of_model_is_covered():
    declared = {c for c in vars(model).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                and c.__module__ == model.__name__}
    assert declared == CLASSES and len(CLASSES) == 10
    # Every method from Frozen: none compiled by dataclasses for the class (the point of it: start-up).
    methods = ("__init__", "__setattr__", "__delattr__", "__repr__", "__eq__", "__hash__")
    assert all(issubclass(c, Frozen) and not set(methods) & set(vars(c)) for c in CLASSES)


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_repr_eq_and_hash_are_dataclasses_own(obj):
    twin = as_stock(obj)
    assert repr(obj) == repr(twin)
    copy = dataclasses.replace(obj)
    assert (obj == copy) == (twin == as_stock(copy))
    assert obj == copy and not obj != copy
    try:
        expected = hash(twin)
    except TypeError:  # a dict or list among the fields: unhashable, as the stock class is
        with pytest.raises(TypeError):
            hash(obj)
    else:
        assert hash(obj) == expected
    # Not equal to the stock twin (another class) nor to anything else; == defers to the other side.
    assert obj != twin and obj.__eq__(twin) is NotImplemented and obj.__eq__(None) is NotImplemented
    restored = pickle.loads(pickle.dumps(obj))  # a NaN comes back another float, unequal to itself: the text
    assert type(restored) is type(obj) and repr(restored) == repr(obj)
    first = dataclasses.fields(obj)[0].name
    for name in (first, "not_a_field"):  # dataclasses' texts, for a field and for any other name
        for act, rest in ((setattr, (name, None)), (delattr, (name,))):
            with pytest.raises(dataclasses.FrozenInstanceError) as ours:
                act(obj, *rest)
            with pytest.raises(dataclasses.FrozenInstanceError) as theirs:
                act(twin, *rest)
            assert str(ours.value) == str(theirs.value)


def _outcome(make, *args, **kwargs):
    """What a call gave: its TypeError's text, or the instance's repr and its dict's keys in order (a stock class's
    name, "Stock...", read without its prefix)."""
    try:
        made = make(*args, **kwargs)
    except TypeError as exc:
        return "TypeError", str(exc).replace("Stock", "")
    return "made", repr(made).replace("Stock", ""), list(vars(made))


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_init_takes_and_refuses_what_dataclasses_init_does(obj):
    """Positional, by name, defaults and factories, the fields' order in the instance's dict, and every TypeError
    with dataclasses' text (the same call on the stock twin, whose class is renamed so that the texts compare)."""
    cls, stock_cls = type(obj), STOCK[type(obj)]
    fields = dataclasses.fields(obj)
    values = [getattr(obj, f.name) for f in fields]
    names = [f.name for f in fields]
    required = sum(1 for f in fields if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING)
    calls = [
        (values, {}),  # all positional
        ((), dict(zip(names, values))),  # all by name
        (values[:1], dict(reversed(list(zip(names[1:], values[1:]))))),  # names in another order
        (values[:required], {}),  # the defaults and factories
        (values[:max(required - 1, 0)], {}),  # one missing
        ((), {}),  # all the required missing
        ((), {names[-1]: values[-1]}),
        ([*values, 1], {}),  # one too many
        ([*values, 1, 2], {"zzz": 1}),  # an unknown keyword is named before too many positionals
        (values[:1], {names[0]: values[0]}),  # given twice
        ((), {"zzz": 1, names[0]: values[0]}),
        (values[:2], {names[1]: 1, "zzz": 2}),  # the first wrong keyword, in order, is named
    ]
    stock_cls.__qualname__ = "Stock" + cls.__qualname__  # texts name the class: compared with "Stock" taken out
    for args, kwargs in calls:
        assert _outcome(cls, *args, **kwargs) == _outcome(stock_cls, *args, **kwargs), (args, kwargs)
    made = cls(*values[:required])
    for f in fields:  # a factory's value is made anew for each instance, as dataclasses makes it
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(made, f.name) == f.default_factory()
            assert getattr(made, f.name) is not getattr(cls(*values[:required]), f.name)
    assert str(inspect.signature(cls)) == str(inspect.signature(stock_cls))
    assert cls.__doc__ != stock_cls.__doc__  # each class keeps its own text (dataclasses writes one only if none)


def test_a_field_changed_makes_unequal_with_the_hash_of_the_stock_class():
    for obj in (REF, TENSOR, model.Architecture("a", "onnx", "none", "name")):
        changed = dataclasses.replace(obj, **{dataclasses.fields(obj)[-1].name: "other"})
        assert obj != changed and (as_stock(obj) == as_stock(changed)) is False
        assert hash(changed) == hash(as_stock(changed))
    nan = model.Latency(avg=float("nan"))
    assert (nan == model.Latency(avg=float("nan"))) == (as_stock(nan) == as_stock(model.Latency(avg=float("nan"))))


def test_a_value_inside_itself_and_the_fields_dataclasses_leaves_out():
    """The recursion guard and the repr/compare/hash flags, on a class that uses them (none of model's does yet)."""

    @value
    class Node(Frozen):
        name: str
        children: list = field(default_factory=list)
        secret: str = field(default="s", repr=False)
        seen: int = field(default=0, compare=False)
        label: str = field(default="l", hash=False)

    @dataclass(frozen=True)
    class Plain:
        name: str
        children: list = field(default_factory=list)
        secret: str = field(default="s", repr=False)
        seen: int = field(default=0, compare=False)
        label: str = field(default="l", hash=False)

    a, b = Node("a"), Plain("a")
    a.children.append(a)
    b.children.append(b)
    assert repr(a).replace("Node", "Plain") == repr(b) == "test_a_value_inside_itself_and_the_fields_dataclasses" \
        "_leaves_out.<locals>.Plain(name='a', children=[...], seen=0, label='l')"
    assert Node("x", seen=1) == Node("x", seen=2) and Node("x", label="p") != Node("x", label="q")
    assert hash(Node("x", (), label="p")) == hash(Node("x", (), label="q")) == hash(Plain("x", (), label="p"))
    with pytest.raises(TypeError):  # a list among the hashed fields, as in the stock class
        hash(Node("x"))
    one = value(type("One", (Frozen,), {"__annotations__": {"v": "int"}}))
    none = value(type("Empty", (Frozen,), {}))
    assert hash(one(3)) == hash((3,)) and one(3) == one(3) != one(4) and repr(one(3)) == "One(v=3)"
    assert hash(none()) == hash(()) and none() == none() and repr(none()) == "Empty()"


def test_asdict_is_dataclasses_asdict():
    """frozen.asdict (the model's to_dict) against dataclasses.asdict on every class, and on values it must copy or
    keep the type of: named tuples, dict subclasses, sets, nested dataclasses (not defaultdicts: Python 3.11's
    asdict cannot copy one)."""
    from collections import OrderedDict, namedtuple

    from segbench.frozen import asdict

    Pair = namedtuple("Pair", "a b")
    odd = model.DeviceInfo(id="x", kind="host", extra={
        "pair": Pair([1], {"k": (2, 3)}), "od": OrderedDict(b=[1.5]),
        "set": {1, 2}, "nested": [(PHONE,), {"t": TENSOR}], "none": None, "bytes": b"\x00"})
    for obj in [*SAMPLES, odd]:
        ours, theirs = asdict(obj), dataclasses.asdict(obj)
        assert ours == theirs and repr(ours) == repr(theirs)
    theirs, ours = dataclasses.asdict(odd)["extra"], asdict(odd)["extra"]
    for key in ("pair", "od", "set"):
        assert type(ours[key]) is type(theirs[key])
    assert ours["set"] is not odd.extra["set"] and ours["nested"][1]["t"] == dataclasses.asdict(TENSOR)
    from collections import defaultdict

    dd = asdict(model.DeviceInfo(id="x", kind="host", extra={"dd": defaultdict(list, {"a": [REF]})}))["extra"]["dd"]
    assert type(dd) is defaultdict and dd.default_factory is list and dd == {"a": [dataclasses.asdict(REF)]}


def test_init_of_the_fields_model_does_not_use_yet():
    """init=False fields, __post_init__, a class without fields: as dataclasses' __init__; InitVar and kw_only
    fields, which Frozen's __init__ does not take, are refused when the class is first made, not taken wrongly."""

    @value
    class Ours(Frozen):
        a: int
        b: list = field(default_factory=list)
        c: int = field(default=5, init=False)
        d: list = field(default_factory=lambda: [1], init=False)

        def __post_init__(self):
            self.b.append(self.a)

    @dataclass(frozen=True)
    class Theirs:
        a: int
        b: list = field(default_factory=list)
        c: int = field(default=5, init=False)
        d: list = field(default_factory=lambda: [1], init=False)

        def __post_init__(self):
            self.b.append(self.a)

    Theirs.__qualname__ = Ours.__qualname__.replace("Ours", "Theirs")
    for args, kwargs in (((1,), {}), ((1, [2]), {}), ((), {"a": 1, "b": []}), ((1,), {"c": 3}), ((1, [], 3), {})):
        # __post_init__ appends to the list given: each call its own
        got = _outcome(Ours, *copy.deepcopy(args), **copy.deepcopy(kwargs))
        want = _outcome(Theirs, *copy.deepcopy(args), **copy.deepcopy(kwargs))
        assert got == tuple(x.replace("Theirs", "Ours") if isinstance(x, str) else x for x in want), (args, kwargs)
    assert Ours(1).b == [1] and Ours(1).b is not Ours(1).b

    empty, stock_empty = value(type("Empty", (Frozen,), {})), dataclass(frozen=True)(type("Empty", (), {}))
    for args in ((), (1,), (1, 2)):
        assert _outcome(empty, *args) == _outcome(stock_empty, *args)
    assert str(inspect.signature(empty)) == str(inspect.signature(stock_empty)) == "() -> None"

    @value
    class Later(Frozen):
        a: int = field(kw_only=True, default=0)

    @value
    class Passed(Frozen):
        a: dataclasses.InitVar[int]

    for cls in (Later, Passed):
        with pytest.raises(TypeError, match="takes no InitVar or kw_only field"):
            cls()
    with pytest.raises(TypeError, match="for subclasses of Frozen"):
        value(type("Plain", (), {}))
