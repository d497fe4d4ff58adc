"""The model zoo: definitions, heads, ONNX export checked in onnxruntime, and the `zoo` CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

torch = pytest.importorskip("torch", reason="the zoo extra (torch==2.13.0) is not installed")

from segbench.models import find_models, read_manifest, write_manifest  # noqa: E402
from segbench.zoo.build import build, build_net, count_params  # noqa: E402
from segbench.zoo.export import export_model, onnx_params  # noqa: E402
from segbench.zoo.heads import valid_interpolate  # noqa: E402
from segbench.zoo.registry import ZOO1, export_stem, export_title, get  # noqa: E402

# Zoo I, PP-MobileSeg's comparison (150 classes); zoo II is tested in test_zoo2.py.
NAMES = [m.name for m in ZOO1]
# Trainable parameters of the reference code with 150 classes (docs/zoo.md): the torch definitions
# must match within 1%; they are within 0.03% (the reference figures are rounded to thousands).
REFERENCE = {"lraspp_mobilenetv3_large": 3_243_468, "mobileseg_base": 2_993_000, "topformer_tiny": 1_390_000,
             "topformer_base": 5_063_000, "seaformer_tiny": 1_667_000, "seaformer_base": 8_606_000,
             "pp_mobileseg_tiny": 1_492_000, "pp_mobileseg_base": 5_944_000}


@pytest.mark.parametrize("name", NAMES)
def test_params_match_reference_code(name: str) -> None:
    params = count_params(build_net(name))
    assert abs(params / REFERENCE[name] - 1) < 0.001, params


def test_lraspp_params_exact() -> None:
    # torchvision's lraspp_mobilenet_v3_large with 150 classes, counted independently.
    assert count_params(build_net("lraspp_mobilenetv3_large")) == 3_243_468


@pytest.mark.parametrize("name", NAMES)
def test_heads_shapes_and_agreement(name: str) -> None:
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = build(name, "logits")(x)
        labels = build(name, "argmax")(x)
        vim = build(name, "vim")(x)
    assert logits.shape == (1, 150, 128, 128) and logits.dtype == torch.float32
    assert labels.shape == vim.shape == (1, 128, 128) and labels.dtype == torch.int64
    assert torch.equal(labels, logits.argmax(1))
    assert 0 <= int(vim.min()) and int(vim.max()) < 150
    # Untrained but not degenerate: the seeded weights give many classes across the image.
    assert len(torch.unique(labels)) >= 3
    # VIM differs from argmax exactly where the argmax class wins no low-resolution pixel.
    with torch.no_grad():
        present = torch.unique(build_net(name)(x).argmax(1))
    differs = vim != labels
    assert not torch.isin(labels[differs], present).any()
    assert torch.equal(differs, ~torch.isin(labels, present))


def test_seeded_weights_are_deterministic() -> None:
    a, b, c = build_net("topformer_tiny", 0), build_net("topformer_tiny", 0), build_net("topformer_tiny", 1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    bn = a.stem.bn
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))  # statistics randomised


def test_vim_hand_checked() -> None:
    # Two low-res pixels, three classes: class 0 wins the left one, class 1 the right one, class 2
    # (0.8 everywhere) neither, so VIM keeps {0, 1}. Upsampling 1x2 -> 1x4 (half-pixel) weights the
    # left pixel 1, 0.75, 0.25, 0: the middle pixels are (0.75, 0.25, 0.8) and (0.25, 0.75, 0.8),
    # where class 2 wins after upsampling; VIM gives them the better kept class instead.
    low = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.8]]).reshape(1, 3, 1, 2)
    vim = valid_interpolate(low, (1, 4))
    full = torch.nn.functional.interpolate(low, (1, 4), mode="bilinear", align_corners=False).argmax(1)
    assert full.tolist() == [[[0, 2, 2, 1]]]
    assert vim.tolist() == [[[0, 0, 1, 1]]]


def test_export_names() -> None:
    pp = get("pp_mobileseg_base")
    assert export_stem(pp, "vim", 512) == "pp_mobileseg_base"
    assert export_stem(pp, "logits", 256) == "pp_mobileseg_base_logits_256"
    assert export_title(pp, "argmax", 512) == "PP-MobileSeg-Base [argmax]"


@pytest.mark.parametrize("name", NAMES)
def test_export_every_head_runs_in_onnxruntime(name: str, tmp_path) -> None:
    for head in ("logits", "argmax", "vim"):
        r = export_model(name, head, 128, tmp_path)  # raises when ORT and torch disagree
        assert r.path.is_file() and r.params == count_params(build_net(name))
        # BatchNorm folded: the graph holds about params - BN channels, less MobileSeg's training-only
        # heads (position embeddings resampled at export account for the rest; docs/zoo.md).
        net = build_net(name)
        aux = count_params(net.aux_heads) if hasattr(net, "aux_heads") else 0
        assert abs(r.params_onnx - (r.params - r.bn_channels - aux)) / r.params < 0.01
    assert not list(tmp_path.glob(".*"))  # no work files left (hidden .zoo-export.* folders)


def test_onnx_params_lraspp_is_torch_minus_bn(tmp_path) -> None:
    r = export_model("lraspp_mobilenetv3_large", "logits", 64, tmp_path)
    assert onnx_params(r.path) == 3_243_468 - 12_328 == 3_231_140


@pytest.mark.slow
def test_full_size_export_pp_mobileseg_tiny(tmp_path) -> None:
    import onnxruntime as ort

    for head in ("logits", "argmax", "vim"):
        r = export_model("pp_mobileseg_tiny", head, 512, tmp_path)
        sess = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
        out = sess.run(None, {"image": np.zeros((1, 3, 512, 512), np.float32)})[0]
        assert out.shape[-2:] == (512, 512)


def test_write_manifest_keeps_other_entries(tmp_path) -> None:
    (tmp_path / "manifest.toml").write_text(
        '# hand-written\n[[model]]\nname = "Mine"\nfile = "mine.onnx"\n[model.published]\nmiou = 1.5\n\n'
        '[[model]]\nname = "Old"\nfile = "x.onnx"\nnote = "keep"\n[model.published]\nmiou = 9.9\n')
    write_manifest(tmp_path, [{"name": "X", "file": "x.onnx", "head": "vim", "published": {"miou": 2.0}},
                              {"name": "New", "file": "new.onnx", "zoo": {"params": 5}}])
    text = (tmp_path / "manifest.toml").read_text()
    entries = read_manifest(tmp_path)
    assert text.startswith("# hand-written")
    assert entries["mine.onnx"].published == {"miou": 1.5}
    assert entries["x.onnx"].name == "X" and entries["x.onnx"].extra == {"note": "keep", "head": "vim"}
    assert entries["x.onnx"].published == {"miou": 9.9}  # a curated published table is not overwritten
    assert entries["new.onnx"].extra["zoo"] == {"params": 5}


def test_cli_list_json() -> None:
    r = run_cli("zoo", "list", "--json")
    assert r.code == 0, r.err
    rows = {m["name"]: m for m in json.loads(r.out)["models"]}
    assert set(NAMES) < set(rows)  # zoo II follows (test_zoo2.py)
    assert rows["pp_mobileseg_base"]["params"] == 5_943_878
    assert rows["pp_mobileseg_base"]["default_head"] == "vim"
    assert rows["topformer_tiny"]["input_size"] == [512, 512]
    assert 0.5 < rows["topformer_tiny"]["gmacs"] < 0.56  # reference paddle.flops: 0.56


def test_cli_export_then_run(tmp_path) -> None:
    models = tmp_path / "models"
    r = run_cli("zoo", "export", "pp_mobileseg_tiny", "topformer_tiny", "--head", "default,logits",
                "--size", "64", "-o", str(models))
    assert r.code == 0, r.err
    assert sorted(p.name for p in models.glob("*.onnx")) == [
        "pp_mobileseg_tiny_64.onnx", "pp_mobileseg_tiny_logits_64.onnx",
        "topformer_tiny_64.onnx", "topformer_tiny_logits_64.onnx"]
    entries = read_manifest(models)
    e = entries["pp_mobileseg_tiny_64.onnx"]
    assert e.name == "PP-MobileSeg-Tiny @64" and e.extra["head"] == "vim"
    assert e.published == {}  # published figures belong to 512x512 only
    assert {f.ref.name for f in find_models(models)} == {
        "PP-MobileSeg-Tiny @64", "PP-MobileSeg-Tiny [logits] @64", "TopFormer-Tiny @64",
        "TopFormer-Tiny [logits] @64"}
    run = run_cli("run", "--models", str(models), "--threads", "1", "--warmup", "1", "--repeats", "3",
                  "--reports", str(tmp_path / "reports"), "-q")
    assert run.code == 0, run.err
    from segbench.store import Store

    records = Store(tmp_path / "reports").latest().measurements()
    assert sorted(m.model.name for m in records if m.status == "ok" and m.count == 3) == sorted(
        f.ref.name for f in find_models(models))


@pytest.mark.parametrize("args, code", [
    (["zoo", "export", "nope", "-o", "{tmp}"], 2),
    (["zoo", "export", "-o", "{tmp}"], 2),
    (["zoo", "export", "--all", "topformer_tiny", "-o", "{tmp}"], 2),
    (["zoo", "export", "topformer_tiny", "--size", "100", "-o", "{tmp}"], 2),
    (["zoo", "export", "topformer_tiny", "--head", "softmax", "-o", "{tmp}"], 2),
    (["zoo", "export", "topformer_tiny", "-o", "{file}"], 2),
])
def test_cli_export_usage_errors(args: list[str], code: int, tmp_path) -> None:
    f = tmp_path / "a_file"
    f.write_text("x")
    args = [a.format(tmp=tmp_path / "out", file=f) for a in args]
    assert_one_line_error(run_cli(*args), code)


def test_cli_export_corrupt_manifest(tmp_path) -> None:
    (tmp_path / "manifest.toml").write_text("[[model]\nname = ")
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "-o", str(tmp_path))
    assert_one_line_error(r, 1)
    assert "manifest.toml" in r.err and not list(tmp_path.glob("*.onnx"))


def test_cli_without_torch(tmp_path) -> None:
    # A Python where torch cannot be imported: the error names the extra to install.
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    r = run_cli("zoo", "list", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert_one_line_error(r, 1)
    assert "[zoo]" in r.err, r.err


def test_an_export_whose_macs_are_a_lower_bound_says_so(tmp_path) -> None:
    """SeaFormer's ONNX graph leaves some Conv/MatMul shapes unknown to inspect: its MACs are a lower bound, and the
    export line and the manifest entry say which ops were not counted; a fully known graph has no such key."""
    r = run_cli("zoo", "export", "seaformer_tiny", "topformer_tiny", "--size", "64", "-o", str(tmp_path))
    assert r.code == 0, r.err
    lines = {ln.split(": ")[0].split("] ")[-1]: ln for ln in r.err.splitlines() if ln.startswith("[")}
    assert "G (lower bound);" in lines["seaformer_tiny_64.onnx"]
    assert "(lower bound)" not in lines["topformer_tiny_64.onnx"]
    entries = read_manifest(tmp_path)
    sea, top = entries["seaformer_tiny_64.onnx"].extra["inspect"], entries["topformer_tiny_64.onnx"].extra["inspect"]
    assert sea["macs"] > 0 and set(sea["macs_unknown"]) <= {"Conv", "MatMul", "Gemm", "ConvTranspose"} and sea["macs_unknown"]
    assert set(top) == {"params", "macs"}
