"""The local SE-ResNeXt weights loader (load_seresnext_pretrained) and its key renaming (convert_seresnext_state_dict)."""

from __future__ import annotations

import pytest
import timm
import torch
from monai.networks.nets import SEResNext50
from torch import nn

from mamba_monai.convert import convert_seresnext_state_dict, load_seresnext_pretrained


@pytest.fixture(scope="module")
def timm_net():
    torch.manual_seed(1)
    net = timm.create_model("seresnext50_32x4d", pretrained=False).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so a wrong mapping changes the features
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return net


@pytest.fixture(scope="module")
def timm_file(timm_net, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "seresnext50_32x4d.pth"
    torch.save(timm_net.state_dict(), path)
    return path


def monai_net(num_classes=6):
    return SEResNext50(spatial_dims=2, in_channels=3, num_classes=num_classes)


def test_parameter_count_matches_timm(timm_net):
    assert sum(p.numel() for p in monai_net().parameters()) == 25_523_190  # 25.52 M with 6 classes
    assert sum(p.numel() for p in monai_net(1000).parameters()) == sum(p.numel() for p in timm_net.parameters())


def test_timm_keys_map_one_for_one_except_head(timm_net, timm_file):
    net = monai_net()
    head_before = {k: v.clone() for k, v in net.last_linear.state_dict().items()}
    load_seresnext_pretrained(net, timm_file)
    source = timm_net.state_dict()
    converted, skipped = convert_seresnext_state_dict(source, net)
    assert sorted(skipped) == ["fc.bias", "fc.weight"]
    assert len(converted) == len(source) - 2 == len(net.state_dict()) - 2
    loaded = net.state_dict()
    for name, tensor in converted.items():  # every backbone tensor equals its timm source
        assert torch.equal(loaded[name], tensor), name
    for name, tensor in head_before.items():  # the head keeps its initialisation
        assert torch.equal(net.last_linear.state_dict()[name], tensor)


def test_loaded_network_computes_timm_features(timm_net, timm_file):
    """Same features as timm once the stem pooling is made timm's (MONAI's follows pretrainedmodels)."""
    net = load_seresnext_pretrained(monai_net(), timm_file).eval()
    net.layer0.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ours = net.adaptive_avg_pool(net.features(x)).flatten(1)
        theirs = timm_net.forward_head(timm_net.forward_features(x), pre_logits=True)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def pretrainedmodels_names(state):
    renamed = {}
    for key, value in state.items():
        key = key.replace(".se.", ".se_module.")
        if key.startswith(("conv1.", "bn1.")):
            key = "layer0." + key
        if key.startswith("fc."):
            key = "last_linear." + key[3:]
        renamed[key] = value
    return renamed


@pytest.mark.parametrize("wrap", ["plain", "state_dict+module", "model"])
def test_pretrainedmodels_and_wrapped_checkpoints(timm_net, tmp_path, wrap):
    state = pretrainedmodels_names(timm_net.state_dict())
    if wrap == "state_dict+module":
        state = {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3}
    elif wrap == "model":
        state = {"model": state}
    torch.save(state, tmp_path / "w.pth")
    net = load_seresnext_pretrained(monai_net(), tmp_path / "w.pth")
    assert torch.equal(net.layer3[2].se_layer.fc[0].weight, timm_net.layer3[2].se.fc1.weight.flatten(1))
    assert torch.equal(net.layer0.bn1.running_var, timm_net.bn1.running_var)


def test_monai_checkpoint_of_other_class_count(tmp_path):
    source = monai_net(num_classes=3)
    torch.save(source.state_dict(), tmp_path / "monai.pt")
    net = load_seresnext_pretrained(monai_net(), tmp_path / "monai.pt")
    assert torch.equal(net.layer4[0].project.conv.weight, source.layer4[0].project.conv.weight)
    assert net.last_linear.weight.shape == (6, 2048)


def test_head_loaded_on_request_when_shapes_match(timm_net, timm_file):
    net = load_seresnext_pretrained(monai_net(1000), timm_file, skip_head=False)
    assert torch.equal(net.last_linear.weight, timm_net.fc.weight)
    with pytest.raises(ValueError, match="wrong shape.*fc.weight"):
        load_seresnext_pretrained(monai_net(6), timm_file, skip_head=False)


def test_none_path_leaves_network_alone():
    net = monai_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert load_seresnext_pretrained(net, None) is net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_missing_file_says_where_to_put_it_and_where_to_get_it(tmp_path):
    path = tmp_path / "models" / "seresnext50_32x4d.pth"
    with pytest.raises(FileNotFoundError) as err:
        load_seresnext_pretrained(monai_net(), path)
    message = str(err.value)
    assert str(path) in message and "pretrained_path" in message
    assert "timm.create_model('seresnext50_32x4d', pretrained=True)" in message
    assert "se_resnext50_32x4d-a260b3a4.pth" in message


def test_other_architecture_is_rejected_with_the_keys(tmp_path):
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), tmp_path / "r18.pth")
    expected = r"r18.pth.*missing key\(s\): .*95 tensor\(s\) of the wrong shape: layer"
    with pytest.raises(ValueError, match=expected):
        load_seresnext_pretrained(monai_net(), tmp_path / "r18.pth")


def test_not_a_state_dict(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth' does not hold a state dict"):
        load_seresnext_pretrained(monai_net(), tmp_path / "list.pth")
