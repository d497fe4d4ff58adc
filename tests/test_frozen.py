"""segbench.frozen.Frozen gives segbench.model's classes the repr, == and hash that @dataclass(frozen=True) writes:
each class is compared with a stock frozen dataclass of the same fields, on the same values."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from segbench import model
from segbench.frozen import Frozen

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
    assert all(issubclass(c, Frozen) and c.__dataclass_params__.frozen for c in CLASSES)


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
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, first, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(obj, first)


def test_a_field_changed_makes_unequal_with_the_hash_of_the_stock_class():
    for obj in (REF, TENSOR, model.Architecture("a", "onnx", "none", "name")):
        changed = dataclasses.replace(obj, **{dataclasses.fields(obj)[-1].name: "other"})
        assert obj != changed and (as_stock(obj) == as_stock(changed)) is False
        assert hash(changed) == hash(as_stock(changed))
    nan = model.Latency(avg=float("nan"))
    assert (nan == model.Latency(avg=float("nan"))) == (as_stock(nan) == as_stock(model.Latency(avg=float("nan"))))


def test_a_value_inside_itself_and_the_fields_dataclasses_leaves_out():
    """The recursion guard and the repr/compare/hash flags, on a class that uses them (none of model's does yet)."""

    @dataclass(frozen=True, repr=False, eq=False)
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
    one = dataclass(frozen=True, repr=False, eq=False)(type("One", (Frozen,), {"__annotations__": {"v": "int"}}))
    none = dataclass(frozen=True, repr=False, eq=False)(type("Empty", (Frozen,), {}))
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
