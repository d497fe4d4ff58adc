"""LiteRT 2.x's --result_file_path message (tflite.tools.benchmark.BenchmarkResult, proto2): segbench's own
wire-format reader and writer (segbench.protowire, runners.benchmark_model) checked against the protobuf package's
own serializer for the same message, built from its field numbers and types."""

from __future__ import annotations

import pytest

from segbench.errors import ParseError
from segbench.runners.benchmark_model import RESULT_FIELDS, read_result_proto, write_result_proto

protobuf = pytest.importorskip("google.protobuf")


def _message_class():
    """BenchmarkResult as protobuf builds it from a descriptor (field numbers and types as in the .proto)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    kinds = {"f": F.TYPE_FLOAT, "i": F.TYPE_INT64}
    int32 = {("misc", 2), ("misc", 3)}
    names = {2: "Latency", 3: "Memory", 4: "Misc"}
    fd = descriptor_pb2.FileDescriptorProto(name="segbench_test_benchmark_result.proto", package="t",
                                            syntax="proto2")
    top = fd.message_type.add(name="BenchmarkResult")
    top.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    for number, fields in RESULT_FIELDS.items():
        sub = fd.message_type.add(name=names[number])
        for field, (name, kind) in fields.items():
            kind_type = F.TYPE_INT32 if (names[number].lower(), field) in int32 else kinds[kind]
            sub.field.add(name=name, number=field, type=kind_type, label=F.LABEL_OPTIONAL)
        top.field.add(name=names[number].lower(), number=number, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                      type_name=f".t.{names[number]}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.BenchmarkResult"))


def test_reads_what_protobuf_writes():
    cls = _message_class()
    msg = cls()
    msg.name = "cpu run"
    msg.latency.median_ms, msg.latency.p5_ms, msg.latency.p95_ms, msg.latency.avg_ms = 12.5, 10.25, 15.75, 12.0
    msg.memory.init_footprint_kb, msg.memory.overall_footprint_kb = -4, 40960
    msg.misc.num_runs, msg.misc.model_size_mb = 50, 1.5
    got = read_result_proto(msg.SerializeToString())
    assert got == {"median_ms": 12.5, "p5_ms": 10.25, "p95_ms": 15.75, "avg_ms": 12.0, "init_footprint_kb": -4,
                   "overall_footprint_kb": 40960, "num_runs": 50, "model_size_mb": 1.5}


def test_protobuf_reads_what_segbench_writes():
    cls = _message_class()
    values = {"median_ms": 3.5, "p5_ms": 3.0, "p95_ms": 4.25, "init_ms": 20.0, "first_ms": 7.5,
              "init_footprint_kb": 1024, "overall_footprint_kb": -1, "num_runs": 7, "num_warmup_runs": 1,
              "throughput_mb_s": 0.5}
    msg = cls.FromString(write_result_proto(values))
    assert (msg.latency.median_ms, msg.latency.p5_ms, msg.latency.p95_ms) == (3.5, 3.0, 4.25)
    assert (msg.latency.init_ms, msg.latency.first_ms) == (20.0, 7.5)
    assert (msg.memory.init_footprint_kb, msg.memory.overall_footprint_kb) == (1024, -1)
    assert (msg.misc.num_runs, msg.misc.num_warmup_runs) == (7, 1)
    assert not msg.latency.HasField("avg_ms") and not msg.HasField("name")  # unset stays unset
    assert read_result_proto(write_result_proto(values)) == values


@pytest.mark.parametrize("data, says", [
    (b"", "holds no figures"),
    (b"\x12\x05\x2d\x00\x00", "runs past the end"),  # latency: 5 bytes promised, 3 there
    (b"\x12\x02\x2d\x00", "runs past the end"),  # median: a float cut short
    (b"\x12\x01\x28", "runs past the end"),  # a varint key and no value
    (b"\x0b\x00", "wire type 3"),  # a group
    (b"\x00\x00", "field number 0"),
    (b"\x12\x02\x28\x01", "not 32-bit"),  # median as a varint
    (b"Traceback (most recent call last):\n", "not a LiteRT benchmark result file"),
])
def test_a_file_that_is_no_such_message_is_one_parse_error(data, says):
    with pytest.raises(ParseError) as err:
        read_result_proto(data)
    assert says in str(err.value)


def test_unknown_fields_are_skipped_as_protobuf_readers_do():
    data = write_result_proto({"median_ms": 1.0}) + b"\x2a\x03abc" + b"\x30\x07"  # fields 5 and 6: not ours
    assert read_result_proto(data) == {"median_ms": 1.0}
