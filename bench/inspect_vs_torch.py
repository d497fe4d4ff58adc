"""Cross-check `segbench inspect` against torch's own counters on a network exported from torch.

    python bench/inspect_vs_torch.py [--size 512]      # needs the `zoo` extra (torch 2.13.0)

Builds a MobileNet-style segmentation net in plain torch.nn that has every MAC op kind segbench
counts (standard, strided, depthwise, dilated and grouped convs, a transposed conv, a Linear),
with randomised BatchNorm statistics, exports it to ONNX with torch.onnx.export, and compares:

- FLOPs: torch.utils.flop_counter.FlopCounterMode (convolution, addmm) vs 2 x segbench MACs;
- params: sum(p.numel()) - BatchNorm channels (the folding docs/inspect.md describes) vs segbench.

Both must be equal; the script exits 1 if not. Run on demand: torch is an optional extra, so this
is not part of the test suite (the tests check the same conventions on hand-computed models).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.modelinfo import inspect_model  # noqa: E402


def build() -> object:
    import torch
    from torch import nn

    def cbr(cin: int, cout: int, k: int = 3, s: int = 1, d: int = 1, g: int = 1) -> nn.Module:
        conv = nn.Conv2d(cin, cout, k, s, padding=d * (k // 2), dilation=d, groups=g, bias=False)
        return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU6())

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                cbr(3, 32, s=2), cbr(32, 32, g=32), cbr(32, 64, k=1), cbr(64, 64, s=2, g=64), cbr(64, 128, k=1),
                cbr(128, 128, d=2, g=128), cbr(128, 256, k=1), cbr(256, 256, g=8), cbr(256, 128, k=1))
            self.up = nn.ConvTranspose2d(128, 64, 2, stride=2)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, 21)
            self.cls = nn.Conv2d(64, 21, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.up(self.body(x))
            attention = torch.sigmoid(self.fc(self.gap(y).flatten(1)))[:, :, None, None]
            out = self.cls(y) * attention
            return nn.functional.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=False)

    torch.manual_seed(0)
    net = Net().eval()
    for m in net.modules():  # trained-like BN, so folded biases are not all-zero duplicates
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net


def main() -> int:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=512)
    size = parser.parse_args().size
    net = build()
    x = torch.randn(1, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        net(x)
    torch_flops = counter.get_total_flops()
    bn = sum(m.num_features for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    torch_params = sum(p.numel() for p in net.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.onnx"
        torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=17)
        info = inspect_model(path)
    print(f"torch {torch.__version__}, input 1x3x{size}x{size}")
    print(f"FLOPs   torch FlopCounterMode {torch_flops:,}   segbench 2 x MACs {info.flops:,}   by op {info.macs_by_op}")
    print(f"params  torch {torch_params:,} - BN channels {bn:,} = {torch_params - bn:,}   segbench {info.params:,}")
    ok = torch_flops == info.flops and torch_params - bn == info.params
    print("equal" if ok else "DIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
