"""Tests of mamba_monai.networks.blocks.scan_orders: exact invertibility, agreement with index references and the
original codes' orderings, shape rejection, tracing / compiling and autograd."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mamba_monai.networks.blocks.scan_orders import (
    CrossScan2D,
    RasterScan,
    ScanOrder,
    SliceScan2D,
    TriOrientedScan3D,
    scan_order_from_name,
)

SHAPES_2D = [(4, 6), (6, 4), (8, 12), (12, 8), (2, 2), (4, 4), (8, 8), (1, 1), (1, 5), (5, 1), (3, 7)]
SHAPES_3D = [(2, 3, 5), (4, 8, 6), (1, 1, 1), (3, 1, 2), (5, 2, 1), (4, 4, 4)]
STRIPS = [(2, 2), (2, 4), (4, 2), (4, 4)]
# shapes divisible by every strip in STRIPS, square and not
SLICE_SHAPES = [(4, 4), (4, 8), (8, 4), (8, 12), (12, 8), (16, 4), (8, 8)]


def _cases() -> list[tuple[ScanOrder, tuple[int, ...]]]:
    cases: list[tuple[ScanOrder, tuple[int, ...]]] = []
    cases += [(RasterScan(1), (s[0] * s[1],)) for s in SHAPES_2D[:3]]
    cases += [(RasterScan(2), s) for s in SHAPES_2D]
    cases += [(RasterScan(3), s) for s in SHAPES_3D]
    cases += [(CrossScan2D(), s) for s in SHAPES_2D]
    cases += [(SliceScan2D(strip), s) for strip in STRIPS for s in SLICE_SHAPES]
    cases += [(SliceScan2D((1, 3)), (5, 6)), (SliceScan2D((3, 1)), (6, 5)), (SliceScan2D((2, 2)), (2, 2))]
    cases += [(TriOrientedScan3D(), s) for s in SHAPES_3D]
    return cases


CASES = _cases()
CASE_IDS = [f"{order!r}-{shape}" for order, shape in CASES]


def _map(shape, batch=2, channels=3, dtype=torch.float32, seed=0) -> torch.Tensor:
    """Integer-valued random map, so sums of copies are exact in floating point."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-50, 50, (batch, channels, *shape), generator=g).to(dtype)


# ----------------------------------------------------------------------------------------------------------------
# properties over the shape grid
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order,shape", CASES, ids=CASE_IDS)
def test_restore_of_flatten_is_k_copies(order, shape):
    x = _map(shape)
    y = order.flatten(x)
    assert y.shape == (2, order.num_directions, 3, math.prod(shape))
    restored = order.restore(y, shape)
    assert restored.shape == (2, order.num_directions, 3, *shape)
    for k in range(order.num_directions):
        assert torch.equal(restored[:, k], x), f"direction {k}"


@pytest.mark.parametrize("order,shape", CASES, ids=CASE_IDS)
def test_merge_of_flatten_is_k_times_x(order, shape):
    x = _map(shape)
    y = order.flatten(x)
    merged = order.merge(y, shape)
    assert merged.shape == x.shape
    assert torch.equal(merged, order.num_directions * x)
    assert torch.equal(merged, order.restore(y, shape).sum(1))


@pytest.mark.parametrize("order,shape", CASES, ids=CASE_IDS)
def test_flatten_agrees_with_permutation(order, shape):
    x = torch.randn(2, 3, *shape)
    perm = order.permutation(shape)
    assert perm.dtype == torch.long and perm.shape == (order.num_directions, math.prod(shape))
    y = order.flatten(x)
    for k in range(order.num_directions):
        assert torch.equal(y[:, k], x.flatten(2)[:, :, perm[k]]), f"direction {k}"


@pytest.mark.parametrize("order,shape", CASES, ids=CASE_IDS)
def test_permutation_rows_are_permutations(order, shape):
    perm = order.permutation(shape)
    expected = torch.arange(math.prod(shape))
    for k in range(order.num_directions):
        assert torch.equal(perm[k].sort().values, expected), f"direction {k}"


@pytest.mark.parametrize("order,shape", CASES, ids=CASE_IDS)
def test_restore_undoes_arbitrary_sequences(order, shape):
    """restore puts step i of direction k back at position perm[k, i], whatever the sequence holds."""
    y = torch.randn(2, order.num_directions, 3, math.prod(shape))
    perm = order.permutation(shape)
    restored = order.restore(y, shape).flatten(3)
    for k in range(order.num_directions):
        assert torch.equal(restored[:, k][:, :, perm[k]], y[:, k]), f"direction {k}"


def _random_order_and_shape(draw):
    kind = draw(st.sampled_from(["raster2", "raster3", "cross", "slice", "tri"]))
    dim = st.integers(1, 9)
    if kind == "raster2":
        return RasterScan(2), (draw(dim), draw(dim))
    if kind == "raster3":
        return RasterScan(3), (draw(dim), draw(dim), draw(dim))
    if kind == "cross":
        return CrossScan2D(), (draw(dim), draw(dim))
    if kind == "slice":
        ih, iw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        return SliceScan2D((ih, iw)), (ih * draw(st.integers(1, 4)), iw * draw(st.integers(1, 4)))
    return TriOrientedScan3D(), (draw(dim), draw(dim), draw(dim))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_random_shapes(data):
    order, shape = _random_order_and_shape(data.draw)
    x = torch.randn(1, 2, *shape, dtype=torch.float64)
    y = order.flatten(x)
    restored = order.restore(y, shape)
    for k in range(order.num_directions):
        assert torch.equal(restored[:, k], x)
    perm = order.permutation(shape)
    for k in range(order.num_directions):
        assert torch.equal(y[:, k], x.flatten(2)[:, :, perm[k]])


# ----------------------------------------------------------------------------------------------------------------
# hand-checkable cases
# ----------------------------------------------------------------------------------------------------------------
def _arange_seq(order: ScanOrder, shape) -> list[list[int]]:
    x = torch.arange(math.prod(shape)).view(1, 1, *shape)
    return order.flatten(x)[0, :, 0].tolist()


def test_raster_hand_case():
    assert _arange_seq(RasterScan(2), (2, 3)) == [[0, 1, 2, 3, 4, 5]]
    assert RasterScan(3).permutation((1, 2, 2)).tolist() == [[0, 1, 2, 3]]


def test_cross_hand_case():
    assert _arange_seq(CrossScan2D(), (2, 3)) == [
        [0, 1, 2, 3, 4, 5],
        [0, 3, 1, 4, 2, 5],
        [5, 4, 3, 2, 1, 0],
        [5, 2, 4, 1, 3, 0],
    ]


def test_slice_hand_case():
    seq = _arange_seq(SliceScan2D((2, 2)), (4, 4))
    assert seq[0] == [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]
    assert seq[1] == seq[0][::-1]
    assert seq[2] == [0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15]
    assert seq[3] == seq[2][::-1]


def test_slice_hand_case_non_square():
    # H=2, W=6, strips of 2 rows and 3 columns
    seq = _arange_seq(SliceScan2D((2, 3)), (2, 6))
    assert seq[0] == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]
    assert seq[2] == [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]


def test_slice_examples_from_the_original():
    """The reference notes give, for 8x8 maps: k0 with ih=2 starts 0,8,1,9,2,10; k2 with iw=2 starts 0,1,8,9,16,17."""
    seq = _arange_seq(SliceScan2D((2, 2)), (8, 8))
    assert seq[0][:6] == [0, 8, 1, 9, 2, 10]
    assert seq[2][:6] == [0, 1, 8, 9, 16, 17]


def test_tri_oriented_hand_case():
    seq = _arange_seq(TriOrientedScan3D(), (2, 2, 3))
    assert seq[0] == list(range(12))
    assert seq[1] == list(range(11, -1, -1))
    assert seq[2] == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]


def test_tri_oriented_example_from_the_original():
    """The reference notes give D=4, H=2, W=3 (nslices=4): 0,6,12,18,1,7,13,19,..."""
    assert _arange_seq(TriOrientedScan3D(), (4, 2, 3))[2][:8] == [0, 6, 12, 18, 1, 7, 13, 19]


# ----------------------------------------------------------------------------------------------------------------
# agreement with the original codes' formulations (re-expressed here from the reference notes)
# ----------------------------------------------------------------------------------------------------------------
def _medmamba_cross_scan(x):
    b, c, h, w = x.shape
    hw_wh = torch.stack([x.view(b, -1, h * w), x.transpose(2, 3).contiguous().view(b, -1, h * w)], dim=1)
    return torch.cat([hw_wh, hw_wh.flip(-1)], dim=1)


def _medmamba_cross_merge(y, h, w):
    b, _, c, _ = y.shape
    inv = y[:, 2:4].flip(-1)
    wh = y[:, 1].reshape(b, c, w, h).transpose(2, 3).reshape(b, c, h * w)
    inv_wh = inv[:, 1].reshape(b, c, w, h).transpose(2, 3).reshape(b, c, h * w)
    return (y[:, 0] + inv[:, 0] + wh + inv_wh).reshape(b, c, h, w)


@pytest.mark.parametrize("shape", SHAPES_2D)
def test_cross_matches_medmamba_formulation(shape):
    x = torch.randn(2, 5, *shape)
    order = CrossScan2D()
    assert torch.equal(order.flatten(x), _medmamba_cross_scan(x))
    y = torch.randn(2, 4, 5, math.prod(shape))
    assert torch.equal(order.merge(y, shape), _medmamba_cross_merge(y, *shape))


def _slicemamba_scan(x, ih, iw):
    b, c, h, w = x.shape
    h_strips = torch.chunk(x, h // ih, dim=2)
    w_strips = torch.chunk(x, w // iw, dim=3)
    d0 = torch.cat([s.transpose(2, 3).reshape(b, c, -1) for s in h_strips], dim=-1)
    d2 = torch.cat([s.reshape(b, c, -1) for s in w_strips], dim=-1)
    return torch.cat([torch.stack([d0, d0.flip(-1)], 1), torch.stack([d2, d2.flip(-1)], 1)], dim=1)


@pytest.mark.parametrize("strip", STRIPS)
@pytest.mark.parametrize("shape", SLICE_SHAPES)
def test_slice_matches_slicemamba_formulation(strip, shape):
    x = torch.randn(2, 5, *shape)
    assert torch.equal(SliceScan2D(strip).flatten(x), _slicemamba_scan(x, *strip))


def _slicemamba_merge(y, h, w, ih, iw):
    """SliceMamba's recombination as written in the original, including its reshape by H for k0/k1."""
    b, _, c, n = y.shape

    def from_h(seq):
        parts = [seq[..., i * ih * w : (i + 1) * ih * w].reshape(b, -1, h, ih) for i in range(h // ih)]
        return torch.cat(parts, dim=-1).transpose(3, 2).reshape(b, -1, n)

    def from_w(seq):
        parts = [seq[..., i * h * iw : (i + 1) * h * iw].reshape(b, -1, h, iw) for i in range(w // iw)]
        return torch.cat(parts, dim=-1).reshape(b, -1, n)

    out = from_h(y[:, 0]) + from_h(y[:, 1].flip(-1)) + from_w(y[:, 2]) + from_w(y[:, 3].flip(-1))
    return out.reshape(b, c, h, w)


@pytest.mark.parametrize("strip", STRIPS)
@pytest.mark.parametrize("side", [4, 8, 12])
def test_slice_merge_matches_slicemamba_on_square_maps(strip, side):
    y = torch.randn(2, 4, 5, side * side)
    assert torch.equal(SliceScan2D(strip).merge(y, (side, side)), _slicemamba_merge(y, side, side, *strip))


def test_slice_merge_is_exact_where_the_original_is_not():
    """On a non-square map the original's k0/k1 recombination scrambles the layout; ours restores it."""
    shape, strip = (8, 16), (2, 2)
    order = SliceScan2D(strip)
    x = _map(shape, channels=16)
    y = order.flatten(x)
    assert torch.equal(order.merge(y, shape), 4 * x)
    assert not torch.equal(_slicemamba_merge(y, *shape, *strip), 4 * x)


def _segmamba_scan(x):
    b, c, d = x.shape[:3]
    seq = x.reshape(b, c, -1)
    inter = torch.stack(seq.chunk(d, dim=-1), dim=-1).flatten(-2)
    return torch.stack([seq, seq.flip(-1), inter], dim=1)


def _segmamba_merge(y, d, h, w):
    b, _, c, n = y.shape
    inter = y[:, 2].reshape(b, c, n // d, d).permute(0, 1, 3, 2).flatten(-2)
    return (y[:, 0] + y[:, 1].flip(-1) + inter).reshape(b, c, d, h, w)


@pytest.mark.parametrize("shape", SHAPES_3D)
def test_tri_oriented_matches_segmamba_formulation(shape):
    x = torch.randn(2, 5, *shape)
    order = TriOrientedScan3D()
    assert torch.equal(order.flatten(x), _segmamba_scan(x))
    y = torch.randn(2, 3, 5, math.prod(shape))
    assert torch.equal(order.merge(y, shape), _segmamba_merge(y, *shape))


# ----------------------------------------------------------------------------------------------------------------
# rejected inputs
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "order,shape",
    [
        (SliceScan2D((4, 4)), (6, 8)),
        (SliceScan2D((4, 4)), (8, 6)),
        (SliceScan2D((2, 4)), (3, 8)),
        (SliceScan2D((2, 4)), (4, 10)),
        (SliceScan2D((4, 2)), (2, 2)),
    ],
)
def test_slice_rejects_indivisible_shapes(order, shape):
    with pytest.raises(ValueError, match=r"SliceScan2D.*" + str(shape).replace("(", r"\(").replace(")", r"\)")):
        order.check_shape(shape)
    with pytest.raises(ValueError, match="divisible"):
        order.flatten(torch.zeros(1, 1, *shape))
    with pytest.raises(ValueError, match="divisible"):
        order.restore(torch.zeros(1, 4, 1, math.prod(shape)), shape)
    with pytest.raises(ValueError, match="divisible"):
        order.permutation(shape)


@pytest.mark.parametrize(
    "order,shape",
    [
        (CrossScan2D(), (4, 4, 4)),
        (CrossScan2D(), (16,)),
        (SliceScan2D((2, 2)), (4, 4, 4)),
        (TriOrientedScan3D(), (4, 4)),
        (TriOrientedScan3D(), (2, 2, 2, 2)),
        (RasterScan(2), (4, 4, 4)),
        (RasterScan(3), (4, 4)),
    ],
)
def test_rejects_wrong_number_of_spatial_dims(order, shape):
    pattern = str(shape).replace(",)", ")").replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=pattern):
        order.check_shape(shape)
    with pytest.raises(ValueError, match=r"x must be \(batch, channels, \*spatial\)"):
        order.flatten(torch.zeros(1, 1, *shape))


@pytest.mark.parametrize("order", [RasterScan(2), CrossScan2D(), SliceScan2D((1, 1))])
def test_rejects_empty_spatial_sizes(order):
    with pytest.raises(ValueError, match=r"\(0, 4\)"):
        order.check_shape((0, 4))


def test_restore_rejects_mismatched_sequences():
    order = CrossScan2D()
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(2, 3, 3, 24\)"):
        order.restore(torch.zeros(2, 3, 3, 24), (4, 6))  # wrong number of directions
    with pytest.raises(ValueError, match=r"\(4, 6\)"):
        order.merge(torch.zeros(2, 4, 3, 25), (4, 6))  # wrong length
    with pytest.raises(ValueError, match=r"\(4, 6\)"):
        order.restore(torch.zeros(4, 3, 24), (4, 6))  # missing direction axis


@pytest.mark.parametrize("strip", [(0, 2), (2, 0), (-1, 2), (2,), (2, 2, 2), (2.0, 2), (True, 2), "22", None, 0])
def test_slice_rejects_bad_strip_sizes(strip):
    with pytest.raises(ValueError, match="strip"):
        SliceScan2D(strip)


def test_slice_strip_int_means_square():
    assert SliceScan2D(2).strip == (2, 2)
    assert SliceScan2D([2, 4]).strip == (2, 4)
    assert SliceScan2D().strip == (4, 4)


@pytest.mark.parametrize("spatial_dims", [0, 4, 2.0, True, "2"])
def test_raster_rejects_bad_spatial_dims(spatial_dims):
    with pytest.raises(ValueError, match="spatial_dims"):
        RasterScan(spatial_dims)


# ----------------------------------------------------------------------------------------------------------------
# factory
# ----------------------------------------------------------------------------------------------------------------
def test_factory_builds_each_order():
    assert isinstance(scan_order_from_name("raster", spatial_dims=3), RasterScan)
    assert scan_order_from_name("raster", spatial_dims=3).spatial_dims == 3
    assert isinstance(scan_order_from_name("cross"), CrossScan2D)
    assert isinstance(scan_order_from_name("cross", spatial_dims=2), CrossScan2D)
    assert scan_order_from_name("slice", strip=(2, 4)).strip == (2, 4)
    assert isinstance(scan_order_from_name("tri_oriented", spatial_dims=3), TriOrientedScan3D)


def test_factory_rejects_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match="'raster', 'cross', 'slice', 'tri_oriented'"):
        scan_order_from_name("zigzag")
    with pytest.raises(ValueError, match="2D"):
        scan_order_from_name("cross", spatial_dims=3)
    with pytest.raises(ValueError, match="3D"):
        scan_order_from_name("tri_oriented", spatial_dims=2)
    with pytest.raises(ValueError, match="strip"):
        scan_order_from_name("slice", strip=(3, 0))
    with pytest.raises(ValueError, match="invalid arguments"):
        scan_order_from_name("cross", strip=(2, 2))


def test_num_directions_and_repr():
    orders = (RasterScan(2), CrossScan2D(), SliceScan2D(), TriOrientedScan3D())
    assert [o.num_directions for o in orders] == [1, 4, 4, 3]
    assert repr(SliceScan2D((2, 4))) == "SliceScan2D(strip=(2, 4))"


# ----------------------------------------------------------------------------------------------------------------
# dtypes, layouts, tracing, compiling, autograd
# ----------------------------------------------------------------------------------------------------------------
ONE_CASE_EACH = [
    (RasterScan(3), (2, 3, 5)),
    (CrossScan2D(), (4, 6)),
    (SliceScan2D((2, 4)), (6, 8)),
    (TriOrientedScan3D(), (2, 3, 5)),
]
ONE_CASE_IDS = [repr(o) for o, _ in ONE_CASE_EACH]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.bool])
@pytest.mark.parametrize("order,shape", ONE_CASE_EACH, ids=ONE_CASE_IDS)
def test_dtypes(order, shape, dtype):
    x = _map(shape).gt(0) if dtype is torch.bool else _map(shape, dtype=dtype)
    y = order.flatten(x)
    assert y.dtype == dtype
    assert all(torch.equal(r, x) for r in order.restore(y, shape).unbind(1))


@pytest.mark.parametrize("order,shape", ONE_CASE_EACH, ids=ONE_CASE_IDS)
def test_non_contiguous_inputs(order, shape):
    base = torch.randn(3, 2, *shape)
    x = base.transpose(0, 1)  # (B=2, C=3, *spatial), not contiguous
    assert not x.is_contiguous()
    y = order.flatten(x)
    assert torch.equal(y, order.flatten(x.contiguous()))
    y_nc = y.transpose(0, 2).contiguous().transpose(0, 2)  # same values, other strides
    assert all(torch.equal(r, x) for r in order.restore(y_nc, shape).unbind(1))


@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated:FutureWarning")
@pytest.mark.parametrize("order,shape", ONE_CASE_EACH, ids=ONE_CASE_IDS)
def test_jit_trace(order, shape):
    x = torch.randn(2, 3, *shape)

    def roundtrip(t):
        return order.merge(order.flatten(t) * 2.0, t.shape[2:])

    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(roundtrip, (x,))
    other = torch.randn(2, 3, *shape)
    assert torch.allclose(traced(other), 2.0 * order.num_directions * other)
    traced_flatten = torch.jit.trace(order.flatten, (x,))
    assert torch.equal(traced_flatten(other), order.flatten(other))


def test_torch_compile_fullgraph():
    """All orders in one graph (one compilation keeps the test fast); fullgraph: no graph breaks allowed.

    (Compiling with dynamic=True works as well but takes ~15 s, too slow for this file.)
    """
    inputs = [torch.randn(2, 3, *shape) for _, shape in ONE_CASE_EACH]

    def roundtrips(*xs):
        return [order.merge(order.flatten(t), t.shape[2:]) for (order, _), t in zip(ONE_CASE_EACH, xs)]

    compiled = torch.compile(roundtrips, backend="aot_eager", fullgraph=True)
    for got, expected in zip(compiled(*inputs), roundtrips(*inputs)):
        assert torch.equal(got, expected)


@pytest.mark.parametrize("order,shape", ONE_CASE_EACH, ids=ONE_CASE_IDS)
def test_meta_device(order, shape):
    x = torch.empty(2, 3, *shape, device="meta")
    y = order.flatten(x)
    assert y.device.type == "meta" and y.shape == (2, order.num_directions, 3, math.prod(shape))
    assert order.merge(y, shape).shape == x.shape


@pytest.mark.parametrize("order,shape", ONE_CASE_EACH, ids=ONE_CASE_IDS)
def test_gradients(order, shape):
    x = torch.randn(2, 3, *shape, dtype=torch.float64, requires_grad=True)
    # restore(flatten(x)) is K copies of x: the gradient of sum(g * it) is sum_k g[:, k]
    g = torch.randn(2, order.num_directions, 3, *shape, dtype=torch.float64)
    (order.restore(order.flatten(x), shape) * g).sum().backward()
    assert torch.allclose(x.grad, g.sum(1))
    # flatten permutes, so its adjoint is merge
    x.grad = None
    gs = torch.randn(2, order.num_directions, 3, math.prod(shape), dtype=torch.float64)
    (order.flatten(x) * gs).sum().backward()
    assert torch.allclose(x.grad, order.merge(gs, shape))
    # restore's adjoint is flatten-like: check with gradcheck on a tiny case
    y = torch.randn(1, order.num_directions, 2, math.prod(shape), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: order.merge(t, shape), (y,))
