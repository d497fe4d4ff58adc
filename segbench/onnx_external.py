"""The external data files an ONNX model names (a leaf: reads the .onnx's protobuf with segbench.protowire).

``onnx.save(..., save_as_external_data=True)`` (and torch.onnx.export for models over 2 GB) keeps tensors out of the
.onnx: such a TensorProto has ``data_location = EXTERNAL`` and ``external_data`` entries whose ``location`` is a path
relative to the .onnx's folder (``model.onnx.data``, or one file per tensor). ONNX Runtime, on this machine and as
onnxruntime_perf_test on a phone, opens them from there, so they are part of the model: hashed with it and pushed
beside it. Read without the onnx package and without loading the model: the file is mapped and only the fields that
can hold a tensor are walked (weights held inline are skipped over, not read).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from segbench.protowire import WireError, iter_fields

# Field numbers in onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, SparseTensorProto,
# FunctionProto, StringStringEntryProto).
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _EXTERNAL = 13, 14, 1
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_FUNCTION_NODE = 7
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


class ExternalDataError(ValueError):
    """A location that is no file beside the model (absolute, or climbing out of its folder)."""


def external_locations(path: Path) -> list[str]:
    """The ``location`` of every external tensor of the ONNX model at ``path``, each once, in the order met.

    A file that is no well-formed ModelProto gives [] (loading it says what is wrong with it); a location that
    would leave the model's folder raises ExternalDataError (ONNX's own loader refuses it too)."""
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            found = _locations(mapped)
    for location in found:
        _check(location)
    return found


def _locations(mapped: mmap.mmap) -> list[str]:
    """The walk, returning only copies (str), so that no view of the mapping outlives it (the mapping cannot be
    closed while one does); [] for bytes that are no well-formed message."""
    view = memoryview(mapped)
    try:
        return list(dict.fromkeys(_model(view)))
    except WireError:
        return []
    finally:
        view.release()


def _messages(data: memoryview, wanted: int) -> Iterator[memoryview]:
    for number, value in iter_fields(data):
        if number == wanted and isinstance(value, memoryview):
            yield value


def _model(data: memoryview) -> Iterator[str]:
    for number, value in iter_fields(data):
        if number == _MODEL_GRAPH and isinstance(value, memoryview):
            yield from _graph(value)
        elif number == _MODEL_FUNCTIONS and isinstance(value, memoryview):
            for node in _messages(value, _FUNCTION_NODE):
                yield from _node(node)


def _graph(data: memoryview) -> Iterator[str]:
    for number, value in iter_fields(data):
        if not isinstance(value, memoryview):
            continue
        if number == _GRAPH_INITIALIZER:
            yield from _tensor(value)
        elif number == _GRAPH_SPARSE_INITIALIZER:
            yield from _sparse(value)
        elif number == _GRAPH_NODE:
            yield from _node(value)


def _node(data: memoryview) -> Iterator[str]:
    for attribute in _messages(data, _NODE_ATTRIBUTE):
        for number, value in iter_fields(attribute):
            if not isinstance(value, memoryview):
                continue
            if number in (_ATTR_TENSOR, _ATTR_TENSORS):
                yield from _tensor(value)
            elif number in (_ATTR_GRAPH, _ATTR_GRAPHS):  # If/Loop/Scan bodies
                yield from _graph(value)
            elif number in (_ATTR_SPARSE, _ATTR_SPARSES):
                yield from _sparse(value)


def _sparse(data: memoryview) -> Iterator[str]:
    for number, value in iter_fields(data):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES) and isinstance(value, memoryview):
            yield from _tensor(value)


def _tensor(data: memoryview) -> Iterator[str]:
    external, location = False, None
    for number, value in iter_fields(data):
        if number == _TENSOR_DATA_LOCATION and value == _EXTERNAL:
            external = True
        elif number == _TENSOR_EXTERNAL_DATA and isinstance(value, memoryview):
            entry = dict(iter_fields(value))
            key, text = entry.get(_ENTRY_KEY), entry.get(_ENTRY_VALUE)
            if isinstance(key, memoryview) and bytes(key) == b"location" and isinstance(text, memoryview):
                location = bytes(text).decode("utf-8", "surrogateescape")
    if external and location is not None:
        yield location


def _check(location: str) -> None:
    """ONNX's rule: a location is a relative path that stays inside the model's folder."""
    parts = PurePosixPath(location.replace("\\", "/"))
    if not location or parts.is_absolute() or ".." in parts.parts or (len(location) > 1 and location[1] == ":"):
        raise ExternalDataError(f"external data location {location!r} is not a file inside the model's folder")
