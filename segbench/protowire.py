"""Protocol buffers' wire format for the few messages segbench reads and the emulator writes, without generated
code or the protobuf package (a leaf: no segbench imports).

A message is a sequence of fields, each a key (field number << 3 | wire type) as a varint and then its value:
varint (0), 64-bit (1), length-delimited (2: bytes, strings, nested messages) or 32-bit (5). Floats are 32-bit
little-endian, int32/int64 varints (negative numbers as ten-byte two's complement)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are no well-formed message."""


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64: two's complement over 64 bits
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3 | VARINT) + _varint(value)


def field_float(number: int, value: float) -> bytes:
    return _varint(number << 3 | FIXED32) + struct.pack("<f", value)


def field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | LENGTH) + _varint(len(value)) + value


def _read_varint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise WireError("a varint runs past the end" if at >= len(data) else "a varint is too long")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int | bytes | memoryview]]:
    """(field number, value) in order: varints as unsigned ints, 32- and 64-bit values as their raw bytes,
    length-delimited ones as slices of ``data`` (a memoryview over an mmap'd file is walked without copying what it
    skips). Raises WireError on anything malformed."""
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if kind == VARINT:
            value, at = _read_varint(data, at)
        elif kind in (FIXED64, FIXED32):
            size = 8 if kind == FIXED64 else 4
            if at + size > len(data):
                raise WireError("a fixed-size value runs past the end")
            value, at = data[at:at + size], at + size
        elif kind == LENGTH:
            size, at = _read_varint(data, at)
            if at + size > len(data):
                raise WireError("a length-delimited value runs past the end")
            value, at = data[at:at + size], at + size
        else:
            raise WireError(f"wire type {kind} (groups or unknown)")
        yield number, value


def fields(data: bytes) -> dict[int, list[int | bytes]]:
    """Each field number's values in order (``iter_fields``). Raises WireError on anything malformed."""
    out: dict[int, list[int | bytes]] = {}
    for number, value in iter_fields(data):
        out.setdefault(number, []).append(value)
    return out


def as_float(raw: int | bytes) -> float:
    if not isinstance(raw, bytes) or len(raw) != 4:
        raise WireError("a float field is not 32-bit")
    return struct.unpack("<f", raw)[0]


def as_int64(raw: int | bytes) -> int:
    if not isinstance(raw, int):
        raise WireError("an integer field is not a varint")
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def as_message(raw: int | bytes) -> dict[int, list[int | bytes]]:
    if not isinstance(raw, bytes):
        raise WireError("a message field is not length-delimited")
    return fields(raw)
