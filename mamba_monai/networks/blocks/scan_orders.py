"""Scan orders: how a feature map is unrolled into the K sequences a selective scan runs over, and how it is put back.

A scan order maps a channel-first map ``x`` of shape ``(B, C, *spatial)`` to ``K`` sequences ``(B, K, C, L)`` with
``L = prod(spatial)`` (:meth:`ScanOrder.flatten`), and maps ``K`` processed sequences back to maps
(:meth:`ScanOrder.restore`, :meth:`ScanOrder.merge`). Each direction is a permutation of the ``L`` positions, so
``restore(flatten(x), x.shape[2:])`` is ``K`` exact copies of ``x`` for every shape the order accepts.

Orders (the direction order ``k = 0 .. K-1`` is the one of the original code, so trained weights keep their meaning):

- :class:`RasterScan`: one row-major pass.
- :class:`CrossScan2D`: VMamba / MedMamba cross-scan (row-major, column-major, and both reversed).
- :class:`SliceScan2D`: SliceMamba bidirectional slicing into horizontal and vertical strips.
- :class:`TriOrientedScan3D`: SegMamba forward, reverse and inter-slice scans of a volume.

Everything is done with reshapes, permutes and flips, without data-dependent control flow, so the orders work on
any device and dtype, under autograd, ``torch.jit.trace`` and ``torch.compile``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["ScanOrder", "RasterScan", "CrossScan2D", "SliceScan2D", "TriOrientedScan3D", "scan_order_from_name"]


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


class ScanOrder:
    """Base class of scan orders: ``(B, C, *spatial)`` maps to ``(B, K, C, L)`` sequences and back.

    Subclasses set ``num_directions`` (K) and ``spatial_dims``, and implement ``_flatten_directions``,
    ``_restore_directions`` and ``_permutation_rows``; they may add a shape rule in ``_check_rule`` and set
    ``merge_order``, the order in which :meth:`merge` adds the restored directions.
    """

    num_directions: int = 1
    spatial_dims: int = 2
    merge_order: tuple[int, ...] | None = None  # order in which merge adds the directions; None: 0 .. K-1

    def check_shape(self, spatial_shape: Sequence[int]) -> None:
        """Raise ValueError if this order cannot scan a map of the given spatial shape.

        Skipped while ``torch.jit.trace`` records a graph (the sizes are then traced values and the checks would
        only emit TracerWarnings; a shape this order cannot handle still fails in a reshape).

        Args:
            spatial_shape: the spatial sizes of the map, e.g. ``(H, W)`` or ``(D, H, W)``.
        """
        if torch.jit.is_tracing():
            return
        shape = tuple(spatial_shape)
        if len(shape) != self.spatial_dims:
            raise ValueError(
                f"{self!r} scans {self.spatial_dims}D maps, got spatial shape {_fmt(shape)} "
                f"with {len(shape)} dimension(s)"
            )
        if any(s < 1 for s in shape):
            raise ValueError(f"{self!r}: every spatial size must be >= 1, got spatial shape {_fmt(shape)}")
        self._check_rule(shape)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        """Unroll a map into the K scan sequences.

        Args:
            x: channel-first map of shape ``(B, C, *spatial)``.

        Returns:
            Tensor of shape ``(B, K, C, L)`` with ``L = prod(spatial)``; ``[:, k]`` is the map in direction ``k``.
        """
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"{self!r}: x must be (batch, channels, *spatial) with {self.spatial_dims} spatial dimensions, "
                f"got shape {_fmt(x.shape)}"
            )
        self.check_shape(x.shape[2:])
        return torch.stack(self._flatten_directions(x), dim=1)

    def restore(self, y: torch.Tensor, spatial_shape: Sequence[int]) -> torch.Tensor:
        """Undo each direction's permutation, so ``restore(flatten(x), x.shape[2:])`` is K copies of ``x``.

        Args:
            y: sequences of shape ``(B, K, C, L)``, step ``i`` of direction ``k`` as produced by :meth:`flatten`.
            spatial_shape: spatial shape of the map the sequences came from.

        Returns:
            Tensor of shape ``(B, K, C, *spatial_shape)``.
        """
        shape = self._check_sequences(y, spatial_shape)
        return torch.stack(self._restore_directions(y, shape), dim=1)

    def merge(self, y: torch.Tensor, spatial_shape: Sequence[int]) -> torch.Tensor:
        """Restore every direction and add them up, as VMamba's cross-merge does.

        Equal to ``restore(y, spatial_shape).sum(1)`` up to floating-point rounding: the directions are added one by
        one in the original code's order (``merge_order``), without materialising the stacked
        ``(B, K, C, *spatial)`` tensor, so the result is bitwise that of the original recombination.

        Args:
            y: sequences of shape ``(B, K, C, L)``.
            spatial_shape: spatial shape of the map the sequences came from.

        Returns:
            Tensor of shape ``(B, C, *spatial_shape)``.
        """
        shape = self._check_sequences(y, spatial_shape)
        maps = self._restore_directions(y, shape)
        order = self.merge_order if self.merge_order is not None else range(self.num_directions)
        out = None
        for k in order:
            out = maps[k] if out is None else out + maps[k]
        return out

    def permutation(self, spatial_shape: Sequence[int]) -> torch.Tensor:
        """Flat (row-major) index of the element visited at each step, per direction.

        Computed from index arithmetic, independently of :meth:`flatten`, so it can serve as a reference:
        ``flatten(x)[:, k, :, i] == x.flatten(2)[:, :, perm[k, i]]``.

        Args:
            spatial_shape: spatial shape of the map.

        Returns:
            CPU LongTensor of shape ``(K, L)``; each row is a permutation of ``range(L)``.
        """
        shape = tuple(int(s) for s in spatial_shape)
        self.check_shape(shape)
        return torch.stack(self._permutation_rows(shape), dim=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- to be implemented by subclasses -------------------------------------------------------------------------
    def _check_rule(self, shape: tuple[int, ...]) -> None:
        """Order-specific shape rule; ``shape`` already has ``spatial_dims`` sizes, all >= 1."""

    def _flatten_directions(self, x: torch.Tensor) -> list[torch.Tensor]:
        """K tensors ``(B, C, L)``, one per direction."""
        raise NotImplementedError

    def _restore_directions(self, y: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor]:
        """K tensors ``(B, C, *shape)``: ``y[:, k]`` put back in place."""
        raise NotImplementedError

    def _permutation_rows(self, shape: tuple[int, ...]) -> list[torch.Tensor]:
        """K LongTensors ``(L,)``: flat index visited at each step."""
        raise NotImplementedError

    # --- helpers -------------------------------------------------------------------------------------------------
    def _check_sequences(self, y: torch.Tensor, spatial_shape: Sequence[int]) -> tuple[int, ...]:
        shape = tuple(spatial_shape)
        self.check_shape(shape)
        if torch.jit.is_tracing():
            return shape
        length = math.prod(shape)
        if y.dim() != 4 or y.shape[1] != self.num_directions or y.shape[3] != length:
            raise ValueError(
                f"{self!r}: sequences must be (batch, {self.num_directions} directions, channels, {length}) for "
                f"spatial shape {_fmt(shape)}, got shape {_fmt(y.shape)}"
            )
        return shape


class RasterScan(ScanOrder):
    """Plain row-major scan (last spatial axis fastest), one direction.

    Args:
        spatial_dims: number of spatial dimensions (1, 2 or 3).
    """

    num_directions = 1

    def __init__(self, spatial_dims: int) -> None:
        if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int) or spatial_dims not in (1, 2, 3):
            raise ValueError(f"RasterScan: spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims

    def __repr__(self) -> str:
        return f"RasterScan(spatial_dims={self.spatial_dims})"

    def _flatten_directions(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x.flatten(2)]

    def _restore_directions(self, y: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor]:
        return [y[:, 0].reshape(y.shape[0], y.shape[2], *shape)]

    def _permutation_rows(self, shape: tuple[int, ...]) -> list[torch.Tensor]:
        return [torch.arange(math.prod(shape))]


class CrossScan2D(ScanOrder):
    """VMamba / MedMamba cross-scan of a 2D map ``(B, C, H, W)``, four directions.

    - k0: row-major (H outer, W inner);
    - k1: column-major (W outer, H inner);
    - k2: k0 reversed;
    - k3: k1 reversed.

    Any ``H, W`` (square or not). ``merge`` adds the directions as VMamba does: k0 + k2 + k1 + k3.
    """

    num_directions = 4
    spatial_dims = 2
    merge_order = (0, 2, 1, 3)

    def _flatten_directions(self, x: torch.Tensor) -> list[torch.Tensor]:
        rows = x.flatten(2)
        cols = x.transpose(2, 3).flatten(2)
        return [rows, cols, rows.flip(-1), cols.flip(-1)]

    def _restore_directions(self, y: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor]:
        h, w = shape
        b, c = y.shape[0], y.shape[2]

        def from_rows(seq: torch.Tensor) -> torch.Tensor:
            return seq.reshape(b, c, h, w)

        def from_cols(seq: torch.Tensor) -> torch.Tensor:
            return seq.reshape(b, c, w, h).transpose(2, 3)

        return [from_rows(y[:, 0]), from_cols(y[:, 1]), from_rows(y[:, 2].flip(-1)), from_cols(y[:, 3].flip(-1))]

    def _permutation_rows(self, shape: tuple[int, ...]) -> list[torch.Tensor]:
        h, w = shape
        step = torch.arange(h * w)
        rows = step
        cols = (step % h) * w + step // h  # step i visits column i // h, row i % h
        return [rows, cols, rows.flip(0), cols.flip(0)]


class SliceScan2D(ScanOrder):
    """SliceMamba bidirectional slicing of a 2D map ``(B, C, H, W)`` into strips, four directions.

    - k0: horizontal strips of ``ih`` rows, top to bottom; inside a strip, column-major (for each column, the
      ``ih`` rows of the strip);
    - k1: k0 reversed;
    - k2: vertical strips of ``iw`` columns, left to right; inside a strip, row-major (for each row, the ``iw``
      columns of the strip);
    - k3: k2 reversed.

    Requires ``H % ih == 0`` and ``W % iw == 0``. Exact for non-square maps (the original code's restore of k0/k1
    is only right when ``H == W``).

    Args:
        strip: strip sizes ``(ih, iw)`` (SliceMamba's ``slice_method``), positive ints; an int means ``(n, n)``.
            Defaults to ``(4, 4)``, the original's default.
    """

    num_directions = 4
    spatial_dims = 2

    def __init__(self, strip: Sequence[int] | int = (4, 4)) -> None:
        sizes = (strip, strip) if isinstance(strip, int) and not isinstance(strip, bool) else strip
        valid = (
            isinstance(sizes, Sequence)
            and len(sizes) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
        )
        if not valid:
            raise ValueError(f"SliceScan2D: strip must be two positive ints (ih, iw), got {strip!r}")
        self.strip = (int(sizes[0]), int(sizes[1]))

    def __repr__(self) -> str:
        return f"SliceScan2D(strip={self.strip})"

    def _check_rule(self, shape: tuple[int, ...]) -> None:
        (h, w), (ih, iw) = shape, self.strip
        if h % ih != 0 or w % iw != 0:
            raise ValueError(
                f"{self!r} cannot scan spatial shape {_fmt(shape)}: H must be divisible by ih and W by iw "
                f"(H % ih = {h} % {ih} = {h % ih}, W % iw = {w} % {iw} = {w % iw})"
            )

    def _flatten_directions(self, x: torch.Tensor) -> list[torch.Tensor]:
        b, c, h, w = x.shape
        ih, iw = self.strip
        # (B, C, strip, row-in-strip, W) -> (B, C, strip, W, row-in-strip)
        horizontal = x.reshape(b, c, h // ih, ih, w).transpose(3, 4).flatten(2)
        # (B, C, H, strip, col-in-strip) -> (B, C, strip, H, col-in-strip)
        vertical = x.reshape(b, c, h, w // iw, iw).transpose(2, 3).flatten(2)
        return [horizontal, horizontal.flip(-1), vertical, vertical.flip(-1)]

    def _restore_directions(self, y: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor]:
        h, w = shape
        ih, iw = self.strip
        b, c = y.shape[0], y.shape[2]

        def from_horizontal(seq: torch.Tensor) -> torch.Tensor:
            return seq.reshape(b, c, h // ih, w, ih).transpose(3, 4).reshape(b, c, h, w)

        def from_vertical(seq: torch.Tensor) -> torch.Tensor:
            return seq.reshape(b, c, w // iw, h, iw).transpose(2, 3).reshape(b, c, h, w)

        return [
            from_horizontal(y[:, 0]),
            from_horizontal(y[:, 1].flip(-1)),
            from_vertical(y[:, 2]),
            from_vertical(y[:, 3].flip(-1)),
        ]

    def _permutation_rows(self, shape: tuple[int, ...]) -> list[torch.Tensor]:
        h, w = shape
        ih, iw = self.strip
        step = torch.arange(h * w)
        # horizontal: strip = step // (ih * w); inside it, column (r // ih) and row-in-strip (r % ih)
        r = step % (ih * w)
        horizontal = ((step // (ih * w)) * ih + r % ih) * w + r // ih
        # vertical: strip = step // (h * iw); inside it, row (r // iw) and column-in-strip (r % iw)
        r = step % (h * iw)
        vertical = (r // iw) * w + (step // (h * iw)) * iw + r % iw
        return [horizontal, horizontal.flip(0), vertical, vertical.flip(0)]


class TriOrientedScan3D(ScanOrder):
    """SegMamba tri-oriented scan of a volume ``(B, C, D, H, W)``, three directions.

    - k0: forward raster (D slowest, W fastest);
    - k1: k0 reversed;
    - k2: inter-slice: the raster sequence ``(s i)`` with ``s = D`` slices of ``i = H * W`` voxels is reordered to
      ``(i s)``: for each in-slice position, visit slices ``0 .. D-1`` in turn.

    SegMamba hard-codes the number of slices per stage (right for 128^3 crops only); here it is always the actual
    ``D``, so any ``D, H, W >= 1`` works.
    """

    num_directions = 3
    spatial_dims = 3

    def _flatten_directions(self, x: torch.Tensor) -> list[torch.Tensor]:
        b, c, d = x.shape[:3]
        forward = x.flatten(2)
        inter_slice = x.reshape(b, c, d, -1).transpose(2, 3).flatten(2)
        return [forward, forward.flip(-1), inter_slice]

    def _restore_directions(self, y: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor]:
        d, h, w = shape
        b, c = y.shape[0], y.shape[2]
        inter_slice = y[:, 2].reshape(b, c, h * w, d).transpose(2, 3).reshape(b, c, d, h, w)
        return [y[:, 0].reshape(b, c, d, h, w), y[:, 1].flip(-1).reshape(b, c, d, h, w), inter_slice]

    def _permutation_rows(self, shape: tuple[int, ...]) -> list[torch.Tensor]:
        d, h, w = shape
        step = torch.arange(d * h * w)
        forward = step
        inter_slice = (step % d) * (h * w) + step // d  # step i visits slice i % d at in-slice position i // d
        return [forward, forward.flip(0), inter_slice]


_ORDERS: dict[str, type[ScanOrder]] = {
    "raster": RasterScan,
    "cross": CrossScan2D,
    "slice": SliceScan2D,
    "tri_oriented": TriOrientedScan3D,
}


def scan_order_from_name(name: str, **kwargs) -> ScanOrder:
    """Build a scan order from its name.

    Args:
        name: one of ``"raster"``, ``"cross"``, ``"slice"``, ``"tri_oriented"``.
        kwargs: constructor arguments (``spatial_dims`` for ``"raster"``, ``strip`` for ``"slice"``).
            ``spatial_dims`` may also be given for the fixed-dimension orders; it is then checked against theirs.

    Returns:
        The scan order.
    """
    if name not in _ORDERS:
        raise ValueError(f"unknown scan order {name!r}; valid names are {', '.join(map(repr, _ORDERS))}")
    cls = _ORDERS[name]
    if cls is not RasterScan and "spatial_dims" in kwargs:
        spatial_dims = kwargs.pop("spatial_dims")
        if spatial_dims != cls.spatial_dims:
            raise ValueError(
                f"scan order {name!r} ({cls.__name__}) scans {cls.spatial_dims}D maps, "
                f"got spatial_dims={spatial_dims!r}"
            )
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"scan order {name!r} ({cls.__name__}): invalid arguments {kwargs}: {e}") from e
