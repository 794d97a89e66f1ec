"""AutocastInferer: bf16 autocast around the network call only, float32 outputs, and agreement with float32
on small trained networks (a MedMamba classifier and a SegMamba segmenter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.inferers import SimpleInferer, SlidingWindowInferer
from monai.losses import DiceCELoss

from mamba_monai.engines import AutocastInferer
from mamba_monai.networks.nets import MedMamba, SegMamba
from mamba_monai.utils import precision

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Pretend (or confirm) the CPU has native bf16, so the wrapper takes the bf16 path on any machine."""
    monkeypatch.delenv(precision.AMP_ENV_VAR, raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: True)


class _DtypeProbe(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.seen: list[torch.dtype] = []

    def forward(self, x):
        y = self.conv(x)
        self.seen.append(y.dtype)
        return {"logits": y, "aux": [y * 2]}


def test_network_runs_in_bf16_and_outputs_are_float32(bf16_cpu):
    net = _DtypeProbe()
    out = AutocastInferer(SimpleInferer())(torch.randn(1, 2, 8, 8), net)
    assert net.seen == [torch.bfloat16]
    assert out["logits"].dtype == torch.float32 and out["aux"][0].dtype == torch.float32


@pytest.mark.parametrize("switch", [False, "false"])
def test_switched_off_is_the_plain_inferer(bf16_cpu, switch):
    net = _DtypeProbe()
    x = torch.randn(1, 2, 8, 8)
    out = AutocastInferer(SimpleInferer(), enabled=switch)(x, net)
    assert net.seen == [torch.float32]
    assert torch.equal(out["logits"], net(x)["logits"])


def test_env_var_switches_it_off(bf16_cpu, monkeypatch):
    monkeypatch.setenv(precision.AMP_ENV_VAR, "0")
    net = _DtypeProbe()
    AutocastInferer(SimpleInferer())(torch.randn(1, 2, 8, 8), net)
    assert net.seen == [torch.float32]


def test_sliding_window_blends_in_float32(bf16_cpu):
    conv = torch.nn.Conv3d(1, 2, 3, padding=1)
    x = torch.randn(1, 1, 20, 20, 20)
    sw = SlidingWindowInferer(roi_size=(12, 12, 12), overlap=0.5, mode="gaussian")
    with torch.no_grad():
        ref = sw(x, conv)
        got = AutocastInferer(sw)(x, conv)
    assert got.dtype == torch.float32
    assert torch.allclose(got, ref, atol=0.05, rtol=0.02)  # bf16 rounding of the convolution only


def test_rejects_a_bad_switch():
    with pytest.raises(ValueError, match="'amp'"):
        AutocastInferer(SimpleInferer(), enabled="perhaps")


def _two_class_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1: a bright square in the top-left quadrant; class 0: in the bottom-right. Plus noise."""
    x = 0.3 * torch.randn(n, 1, 32, 32, generator=generator)
    y = torch.arange(n) % 2
    for i in range(n):
        r = 2 + int(torch.randint(0, 8, (1,), generator=generator)) + (0 if y[i] else 16)
        x[i, 0, r : r + 6, r : r + 6] += 2.0
    return x, y


def test_trained_medmamba_agrees_in_bf16(bf16_cpu):
    g = torch.Generator().manual_seed(0)
    net = MedMamba(in_channels=1, num_classes=2, depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), drop_path_rate=0.0)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    x, y = _two_class_images(128, g)
    net.train()
    for _ in range(25):  # fp32 training
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    xt, yt = _two_class_images(200, g)
    with torch.no_grad():
        fp32 = net(xt)
        bf16 = AutocastInferer(SimpleInferer())(xt, net)
    assert (fp32.argmax(1) == yt).float().mean() >= 0.9  # the network learned the task
    assert (bf16.argmax(1) == fp32.argmax(1)).float().mean() >= 0.99
    assert (bf16.argmax(1) == yt).float().mean() >= (fp32.argmax(1) == yt).float().mean() - 0.01


def test_bf16_training_step_learns(bf16_cpu):
    """A MedMamba trained entirely under bf16 autocast (no gradient scaler) learns the same task."""
    g = torch.Generator().manual_seed(1)
    net = MedMamba(in_channels=1, num_classes=2, depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), drop_path_rate=0.0)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    x, y = _two_class_images(128, g)
    infer = AutocastInferer(SimpleInferer())
    net.train()
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(infer(x, net), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == torch.float32 and (p.grad is None or p.grad.dtype == torch.float32) for p in net.parameters())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def _dice(a: torch.Tensor, b: torch.Tensor) -> float:
    inter, total = (a & b).sum().item(), a.sum().item() + b.sum().item()
    return 1.0 if total == 0 else 2 * inter / total


def test_trained_segmamba_label_maps_agree_in_bf16(bf16_cpu):
    g = torch.Generator().manual_seed(0)

    def blobs(n):
        shape = (32, 16, 16)  # SegMamba needs a side of 32 or more
        x = 0.3 * torch.randn(n, 1, *shape, generator=g)
        y = torch.zeros(n, 1, *shape)
        zz, yy, xx = torch.meshgrid(*(torch.arange(s) for s in shape), indexing="ij")
        for i in range(n):
            c = [int(torch.randint(4, s - 4, (1,), generator=g)) for s in shape]
            m = ((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2) <= 9
            y[i, 0][m] = 1
            x[i, 0][m] += 1.5
        return x, y

    net = SegMamba(in_channels=1, out_channels=1, depths=(1, 1, 1, 1), feature_size=(8, 16, 16, 32), hidden_size=32)
    opt = torch.optim.AdamW(net.parameters(), lr=5e-3)
    loss_fn = DiceCELoss(sigmoid=True)
    x, y = blobs(4)
    net.train()
    for _ in range(20):
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
    net.eval()
    xt, yt = blobs(3)
    with torch.no_grad():
        fp32 = net(xt) > 0
        bf16 = AutocastInferer(SimpleInferer())(xt, net) > 0
    assert _dice(fp32, yt.bool()) > 0.5  # the network learned something
    for i in range(len(xt)):
        assert _dice(bf16[i], fp32[i]) >= 0.99


BUNDLE_NAMES = sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "train.json").is_file())


@pytest.mark.parametrize("bundle", BUNDLE_NAMES)
def test_every_bundle_engine_uses_the_capability_switch(bundle):
    """Each engine of each bundle autocasts through AutocastInferer and gives MONAI only the CUDA amp flag."""
    configs = BUNDLES / bundle / "configs"
    train = json.loads((configs / "train.json").read_text())
    infer = json.loads((configs / "inference.json").read_text())
    for name, cfg, engine in (
        ("train.json", train, train["train"]["trainer"]),
        ("train.json", train, train["validate"]["evaluator"]),
        ("inference.json", infer, infer["evaluator"]),
    ):
        assert isinstance(cfg["amp"], bool), f"{bundle}/{name}: 'amp' must be the true/false switch"
        assert engine["inferer"].startswith("$mamba_monai.engines.AutocastInferer("), f"{bundle}/{name}"
        assert engine["amp"] == "$mamba_monai.utils.engine_amp(@device, @amp)", f"{bundle}/{name}"
