"""SliceMamba: a U-shaped Mamba network for 2D lesion segmentation whose blocks scan strips of the feature map, with
the weight-sharing supernet of its adaptive slicing search (Fan et al., "SliceMamba with Neural Architecture Search
for Medical Image Segmentation", IEEE JBHI 2025; https://github.com/fAnchao1/SliceMamba)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from monai.networks.blocks.patchembedding import PatchEmbed
from monai.networks.nets.swin_unetr import PatchMergingV2
from timm.layers import DropPath
from torch import nn

from mamba_monai.networks.blocks.genotype import SLICE_CHOICES, Genotype, GenotypeLike
from mamba_monai.networks.blocks.patch_expand import PatchExpand2D
from mamba_monai.networks.blocks.scan_orders import SliceScan2D
from mamba_monai.networks.blocks.ss2d import SS2D
from mamba_monai.networks.variants import VariantTable, variant_arguments
from mamba_monai.networks.weight_init import init_vmamba_weights

__all__ = ["SLICEMAMBA_VARIANTS", "SliceMamba", "SliceMambaBlock", "SliceMambaSupernet"]

#: the original's one model (``SMUNet(num_classes=1)``: 35,797,993 parameters); also the supernet's sizes
SLICEMAMBA_VARIANTS: VariantTable = {
    "default": {"dims": (96, 192, 384, 768), "depths": (2, 2, 9, 2), "depths_decoder": (2, 2, 2, 1)},
}

PATCH_SIZE = 4  # the original's patch embedding is a 4x4 conv with stride 4, undone by a final x4 patch expanding


class SliceMambaBlock(nn.Module):
    """SliceMamba's block (the original's ``S3Block``) on channel-last maps ``(B, H, W, C)``:
    ``x + DropPath(BSS(LayerNorm(x)))``, where BSS (bidirectional slicing and scanning) is an :class:`SS2D` mixer
    with the :class:`SliceScan2D` scan order of strip sizes ``strip``.

    Args:
        dim: channels C.
        strip: strip sizes ``(ih, iw)``: H must be divisible by ih and W by iw.
        d_state: SSM state size.
        drop_path: stochastic-depth rate.
        attn_drop: dropout after the mixer's output projection.
    """

    def __init__(
        self,
        dim: int,
        strip: Sequence[int] = (4, 4),
        d_state: int = 16,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(dim)
        self.mixer = SS2D(dim, d_state=d_state, dropout=attn_drop, scan_order=SliceScan2D(tuple(strip)))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    @property
    def strip(self) -> tuple[int, int]:
        """Strip sizes ``(ih, iw)``; settable (they are configuration, not weights)."""
        return self.mixer.scan_order.strip

    @strip.setter
    def strip(self, value: Sequence[int]) -> None:
        self.mixer.scan_order = SliceScan2D(tuple(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        return x + self.drop_path(self.mixer(self.norm(x)))


class _SliceMambaUNet(nn.Module):
    """Everything SliceMamba and its supernet share; subclasses say what sits at a block position."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dims: Sequence[int],
        depths: Sequence[int],
        depths_decoder: Sequence[int],
        d_state: int,
        drop_rate: float,
        attn_drop_rate: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        dims, depths, depths_decoder = tuple(dims), tuple(depths), tuple(depths_decoder)
        if len(dims) < 2 or len(depths) != len(dims) or len(depths_decoder) != len(dims):
            raise ValueError(
                f"{name}: dims, depths and depths_decoder need one entry per stage (at least 2 stages), got "
                f"dims={dims}, depths={depths}, depths_decoder={depths_decoder}"
            )
        if min(depths) < 1 or min(depths_decoder) < 1:
            raise ValueError(
                f"{name}: every stage needs >= 1 block, got depths={depths}, depths_decoder={depths_decoder}"
            )
        if dims[0] < PATCH_SIZE or dims[0] % PATCH_SIZE or any(b != 2 * a for a, b in zip(dims, dims[1:])):
            raise ValueError(
                f"{name}: dims must double from stage to stage (patch merging doubles the channels, patch expanding "
                f"halves them) and dims[0] must be a multiple of {PATCH_SIZE} (the final x{PATCH_SIZE} expanding "
                f"divides it by {PATCH_SIZE}), got {dims}"
            )
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dims, self.depths, self.depths_decoder = dims, depths, depths_decoder
        self._config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "dims": dims,
            "depths": depths,
            "depths_decoder": depths_decoder,
            "d_state": d_state,
            "drop_rate": drop_rate,
            "attn_drop_rate": attn_drop_rate,
            "drop_path_rate": drop_path_rate,
        }
        n = len(dims)

        self.patch_embed = PatchEmbed(
            patch_size=PATCH_SIZE, in_chans=in_channels, embed_dim=dims[0], norm_layer=nn.LayerNorm, spatial_dims=2
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        rates_decoder = torch.linspace(0, drop_path_rate, sum(depths_decoder), device="cpu").tolist()[::-1]
        index = 0  # gene index of the block being built
        self.encoder = nn.ModuleList()
        for s, depth in enumerate(depths):
            stage = []
            for _ in range(depth):
                stage.append(self._make_position(index, dims[s], d_state, rates[index], attn_drop_rate))
                index += 1
            self.encoder.append(nn.ModuleList(stage))
        self.downsamples = nn.ModuleList(PatchMergingV2(dims[s], spatial_dims=2) for s in range(n - 1))
        self.decoder = nn.ModuleList()
        for s, depth in enumerate(depths_decoder):
            dim, stage = dims[n - 1 - s], []
            for _ in range(depth):
                rate = rates_decoder[index - sum(depths)]
                stage.append(self._make_position(index, dim, d_state, rate, attn_drop_rate))
                index += 1
            self.decoder.append(nn.ModuleList(stage))
        self.upsamples = nn.ModuleList(PatchExpand2D(dims[n - s], scale=2) for s in range(1, n))
        self.final_expand = PatchExpand2D(dims[0], scale=PATCH_SIZE)
        self.final_conv = nn.Conv2d(dims[0] // PATCH_SIZE, out_channels, kernel_size=1)
        self.apply(init_vmamba_weights)  # the original's: convs and SSM parameters keep their own

    # --- hooks ---------------------------------------------------------------------------------------------------
    def _make_position(self, index: int, dim: int, d_state: int, drop_path: float, attn_drop: float) -> nn.Module:
        raise NotImplementedError

    def _pick(self, position: nn.Module, gene: int) -> nn.Module:
        raise NotImplementedError

    # --- shape rule ----------------------------------------------------------------------------------------------
    @property
    def total_stride(self) -> int:
        """Downsampling from the input to the deepest stage: 4 (patch embedding) x 2 per patch merging."""
        return PATCH_SIZE * 2 ** (len(self.dims) - 1)

    def _block_strides(self) -> Iterator[tuple[int, str]]:
        """(stride of the map, block description) of every block, in gene order."""
        n = len(self.dims)
        for s, depth in enumerate(self.depths):
            for j in range(depth):
                yield PATCH_SIZE * 2**s, f"encoder stage {s} block {j}"
        for s, depth in enumerate(self.depths_decoder):
            for j in range(depth):
                yield PATCH_SIZE * 2 ** (n - 1 - s), f"decoder stage {s} block {j}"

    def _size_rule(self, genotype: Genotype | None) -> tuple[tuple[int, int], tuple[str, str]]:
        """Divisors of H and W, and for each the term that sets it."""
        divisors, reasons = [self.total_stride] * 2, [f"the total stride {self.total_stride}"] * 2
        genes = genotype.genes if genotype is not None else [None] * (sum(self.depths) + sum(self.depths_decoder))
        for (stride, where), gene in zip(self._block_strides(), genes):
            strips = SLICE_CHOICES if gene is None else [SLICE_CHOICES[gene]]
            for strip in strips:
                for axis in range(2):
                    need = stride * strip[axis]
                    if math.lcm(divisors[axis], need) != divisors[axis]:
                        divisors[axis] = math.lcm(divisors[axis], need)
                        size = "ih" if axis == 0 else "iw"
                        reasons[axis] = f"strip {size} = {strip[axis]} at stride {stride} ({where})"
        return (divisors[0], divisors[1]), (reasons[0], reasons[1])

    def _check_input(self, x: torch.Tensor, genotype: Genotype) -> None:
        if torch.jit.is_tracing():
            return
        name = type(self).__name__
        channels_ok = x.dim() == 4 and (x.shape[1] == self.in_channels or (x.shape[1] == 1 and self.in_channels == 3))
        if not channels_ok:
            also = " (or 1, repeated to 3)" if self.in_channels == 3 else ""
            raise ValueError(
                f"{name} expects (batch, {self.in_channels}{also}, H, W) images (in_channels={self.in_channels}), "
                f"got shape {tuple(x.shape)}"
            )
        h, w = x.shape[2:]
        (dh, dw), (why_h, why_w) = self._size_rule(genotype)
        if h % dh or w % dw:
            raise ValueError(
                f"{name}: input size (H, W) = ({h}, {w}) is not supported with genotype {list(genotype.genes)}: H must "
                f"be a multiple of {dh} (set by {why_h}) and W of {dw} (set by {why_w}), e.g. "
                f"({max(1, round(h / dh)) * dh}, {max(1, round(w / dw)) * dw}). Rule: the total stride is "
                f"{self.total_stride} (patch embedding {PATCH_SIZE}, {len(self.dims) - 1} patch mergings), and every "
                f"block's map (input size / stride) must be divisible by its strip sizes (ih, iw)"
            )

    # --- forward -------------------------------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        self._check_input(x, genotype)
        if x.shape[1] != self.in_channels:  # grey-level image into a 3-channel network, as the original's SMUNet
            x = x.expand(-1, self.in_channels, -1, -1)
        x = self.pos_drop(self.patch_embed(x).permute(0, 2, 3, 1))
        skips = []
        for s, (stage, genes) in enumerate(zip(self.encoder, genotype.encoder_stage_genes())):
            skips.append(x)
            for position, gene in zip(stage, genes):
                x = self._pick(position, gene)(x)
            if s < len(self.downsamples):
                x = self.downsamples[s](x)
        for s, (stage, genes) in enumerate(zip(self.decoder, genotype.decoder_stage_genes())):
            if s > 0:  # additive skip of the encoder map at this resolution, then x2 upsampling
                x = self.upsamples[s - 1](x + skips[-s])
            for position, gene in zip(stage, genes):
                x = self._pick(position, gene)(x)
        x = self.final_expand(x).permute(0, 3, 1, 2)
        return self.final_conv(x)


class SliceMamba(_SliceMambaUNet):
    """SliceMamba segmentation network built from a genotype (the retrained network of the original's
    ``Evaluation/template``, VM-UNet style).

    - Patch embedding: 4x4 conv with stride 4 and LayerNorm (MONAI's ``PatchEmbed``), channel-last from there on.
    - Encoder: stages of :class:`SliceMambaBlock` with ``dims`` channels and ``depths`` blocks, a patch merging
      (MONAI's ``PatchMergingV2``: 2x2 neighbours concatenated, LayerNorm, Linear 4C -> 2C) after every stage but
      the last.
    - Decoder: ``depths_decoder`` blocks per stage at the encoder's resolutions, deepest first; each later stage
      starts with ``x + skip`` (the encoder map at that resolution, i.e. the input of the encoder stage of the same
      channels: H/32, H/16, H/8 by default) and a :class:`PatchExpand2D` (x2).
    - Head: x4 :class:`PatchExpand2D` to ``dims[0] / 4`` channels at full resolution and a 1x1 conv to
      ``out_channels`` logits.
    - Stochastic depth rises linearly from 0 to ``drop_path_rate`` over the encoder blocks and falls from
      ``drop_path_rate`` to 0 over the decoder blocks.

    Each block's strip sizes come from the genotype (:class:`~mamba_monai.networks.blocks.genotype.Genotype`). The
    genotype is saved in ``state_dict()`` (as extra state ``"_extra_state"``), and loading a state dict sets the
    genotype stored in it: all choices have the same parameter shapes, so the weights alone cannot tell which
    strips they were trained with. ``net.genotype = g`` changes the strips in place.

    Input height and width must be multiples of :meth:`size_divisors`: the total stride (32) and, for every block,
    its map's stride times its strip size; with strips of 2 and 4 that is 32 times the largest strip size used at
    the deepest stage, e.g. 128 for the default all-(4, 4) genotype. H and W need not be equal. With
    ``in_channels=3`` a 1-channel image is repeated to 3 channels, as the original does.

    35,797,993 parameters at the defaults, as the original's ``SMUNet(num_classes=1)`` (published: 35.80 M). With
    weights converted by ``mamba-monai convert --from slicemamba``, outputs on square inputs equal the original's up to
    float32 rounding.

    Differences from the original code: non-square inputs work (the original's slice restore is only right for
    square maps); input sizes are checked up front; the output is logits (the original's ``SMUNet`` wrapper applies
    a sigmoid when ``out_channels == 1``: use ``DiceCELoss(sigmoid=True)`` / ``Activations(sigmoid=True)``);
    state-dict keys differ (``encoder.{s}.{j}`` for ``layers.{s}.blocks.{j}``, ``norm`` / ``mixer`` for ``ln_1`` /
    ``self_attention``, SSM tensors under ``mixer.ssm``, ``downsamples`` / ``upsamples`` / ``final_expand``).

    Args:
        in_channels: input image channels (3 for dermoscopy RGB, 1 for grey-level images).
        out_channels: output channels (logits), 1 for binary lesion segmentation.
        genotype: strip sizes of every block: a :class:`Genotype`, a list of ``sum(depths) + sum(depths_decoder)``
            ints in 0..3, a dict ``{"genotype": [...]}`` or the path of such a JSON file. None: every block (4, 4)
            (the original's BSS default; the original itself requires an architecture from its search).
        dims: channels per stage, each twice the previous; overrides the variant's.
        depths: encoder blocks per stage; overrides the variant's.
        depths_decoder: decoder blocks per stage, deepest first; overrides the variant's.
        d_state: SSM state size.
        drop_rate: dropout after the patch embedding.
        attn_drop_rate: dropout after each mixer's output projection.
        drop_path_rate: largest stochastic-depth rate.
        variant: a name in :data:`SLICEMAMBA_VARIANTS` ("default": the original's sizes).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        genotype: GenotypeLike | None = None,
        dims: Sequence[int] | None = None,
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
        d_state: int = 16,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        variant: str = "default",
    ) -> None:
        sizes = variant_arguments(
            type(self).__name__, SLICEMAMBA_VARIANTS, variant, dims=dims, depths=depths, depths_decoder=depths_decoder
        )
        dims, depths, depths_decoder = sizes["dims"], sizes["depths"], sizes["depths_decoder"]
        if genotype is None:
            genotype = Genotype.uniform(3, depths, depths_decoder)
        self._initial_genotype = Genotype.parse(genotype, depths, depths_decoder)
        super().__init__(
            in_channels, out_channels, dims, depths, depths_decoder, d_state, drop_rate, attn_drop_rate, drop_path_rate
        )
        self._genotype = self._initial_genotype
        del self._initial_genotype  # only needed while the blocks are built

    def _make_position(self, index: int, dim: int, d_state: int, drop_path: float, attn_drop: float) -> nn.Module:
        strip = SLICE_CHOICES[self._initial_genotype.genes[index]]
        return SliceMambaBlock(dim, strip, d_state=d_state, drop_path=drop_path, attn_drop=attn_drop)

    def _pick(self, position: nn.Module, gene: int) -> nn.Module:
        return position

    def blocks(self) -> Iterator[SliceMambaBlock]:
        """Every block in gene order (encoder stages, then decoder stages)."""
        for stage in (*self.encoder, *self.decoder):
            yield from stage

    @property
    def genotype(self) -> Genotype:
        """The genotype the blocks' strip sizes come from; settable with anything :meth:`Genotype.parse` reads."""
        return self._genotype

    @genotype.setter
    def genotype(self, value: GenotypeLike) -> None:
        genotype = Genotype.parse(value, self.depths, self.depths_decoder)
        for block, gene in zip(self.blocks(), genotype.genes):
            block.strip = SLICE_CHOICES[gene]
        self._genotype = genotype

    def size_divisors(self) -> tuple[int, int]:
        """``(dh, dw)``: the input height must be a multiple of dh and the width of dw."""
        return self._size_rule(self._genotype)[0]

    def get_extra_state(self) -> dict[str, Any]:
        return self._genotype.to_dict()

    def set_extra_state(self, state: Mapping[str, Any]) -> None:
        self.genotype = Genotype.from_dict(
            state, self.depths, self.depths_decoder, source=f"{type(self).__name__} state dict"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> logits (B, out_channels, H, W)."""
        return self._forward(x, self._genotype)


class SliceMambaSupernet(_SliceMambaUNet):
    """The weight-sharing supernet of SliceMamba's adaptive slicing search (SPOS style).

    Same network as :class:`SliceMamba`, but every block position holds one :class:`SliceMambaBlock` per choice
    in :data:`~mamba_monai.networks.blocks.genotype.SLICE_CHOICES` (state-dict keys ``encoder.{s}.{j}.{choice}.…``);
    a forward pass runs the path of one genotype, so only the chosen candidates receive gradients (with
    DistributedDataParallel use ``find_unused_parameters=True``). As in the original, the candidates are separate
    modules with their own weights: they have identical shapes, so a cheaper variant could share one set of weights
    between the strip choices (35.80 M instead of 133.76 M parameters), which this class does not do.

    The path is either given per call, ``supernet(x, genotype)``, or set beforehand, ``supernet.genotype = g`` then
    ``supernet(x)``, so that an Ignite handler can sample a path each iteration while MONAI's ``SupervisedTrainer``
    calls ``network(x)``. :func:`~mamba_monai.networks.blocks.genotype.random_genotype` draws paths as the
    original does (uniformly per gene). :meth:`extract` builds a standalone :class:`SliceMamba` with the weights of
    one path, to evaluate it or to warm-start retraining.

    133,756,585 parameters at the defaults, as the original's supernet ``SMUNet(num_classes=1)``.

    Args:
        in_channels: input image channels.
        out_channels: output channels (logits).
        genotype: initial path (optional; see :class:`SliceMamba`).
        dims: channels per stage, each twice the previous; overrides the variant's.
        depths: encoder blocks per stage; overrides the variant's.
        depths_decoder: decoder blocks per stage, deepest first; overrides the variant's.
        d_state: SSM state size.
        drop_rate: dropout after the patch embedding.
        attn_drop_rate: dropout after each mixer's output projection.
        drop_path_rate: largest stochastic-depth rate.
        variant: a name in :data:`SLICEMAMBA_VARIANTS` ("default": the original's sizes).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        genotype: GenotypeLike | None = None,
        dims: Sequence[int] | None = None,
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
        d_state: int = 16,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        variant: str = "default",
    ) -> None:
        sizes = variant_arguments(
            type(self).__name__, SLICEMAMBA_VARIANTS, variant, dims=dims, depths=depths, depths_decoder=depths_decoder
        )
        dims, depths, depths_decoder = sizes["dims"], sizes["depths"], sizes["depths_decoder"]
        super().__init__(
            in_channels, out_channels, dims, depths, depths_decoder, d_state, drop_rate, attn_drop_rate, drop_path_rate
        )
        self._genotype: Genotype | None = None
        if genotype is not None:
            self.genotype = genotype

    def _make_position(self, index: int, dim: int, d_state: int, drop_path: float, attn_drop: float) -> nn.Module:
        return nn.ModuleList(
            SliceMambaBlock(dim, strip, d_state=d_state, drop_path=drop_path, attn_drop=attn_drop)
            for strip in SLICE_CHOICES
        )

    def _pick(self, position: nn.Module, gene: int) -> nn.Module:
        return position[gene]

    @property
    def genotype(self) -> Genotype | None:
        """The path run by ``forward(x)`` without a genotype argument; settable (None clears it)."""
        return self._genotype

    @genotype.setter
    def genotype(self, value: GenotypeLike | None) -> None:
        self._genotype = None if value is None else Genotype.parse(value, self.depths, self.depths_decoder)

    def _resolve(self, genotype: GenotypeLike | None) -> Genotype:
        if genotype is not None:
            return Genotype.parse(genotype, self.depths, self.depths_decoder)
        if self._genotype is None:
            raise ValueError(
                f"{type(self).__name__}: no path to run: call forward(x, genotype) or set supernet.genotype first "
                "(e.g. to random_genotype(rng) each iteration)"
            )
        return self._genotype

    def size_divisors(self, genotype: GenotypeLike | None = None) -> tuple[int, int]:
        """``(dh, dw)`` for a genotype; without one, the divisors that suit every genotype of the search space."""
        parsed = None if genotype is None else Genotype.parse(genotype, self.depths, self.depths_decoder)
        return self._size_rule(parsed)[0]

    def forward(self, x: torch.Tensor, genotype: GenotypeLike | None = None) -> torch.Tensor:
        """(B, in_channels, H, W) -> logits (B, out_channels, H, W) of the path ``genotype`` (default: the one set
        in ``self.genotype``)."""
        return self._forward(x, self._resolve(genotype))

    def subnet_state_dict(self, genotype: GenotypeLike | None = None) -> dict[str, torch.Tensor]:
        """The state dict of the :class:`SliceMamba` of one path: the chosen candidates' weights under the
        standalone network's keys, the shared weights as they are, and the genotype (tensors not copied)."""
        genotype = self._resolve(genotype)
        chosen = {}
        for part, stages in (("encoder", genotype.encoder_stage_genes()), ("decoder", genotype.decoder_stage_genes())):
            for s, genes in enumerate(stages):
                for j, gene in enumerate(genes):
                    chosen[f"{part}.{s}.{j}"] = gene
        out: dict[str, Any] = {}
        for key, value in self.state_dict().items():
            parts = key.split(".")
            if parts[0] in ("encoder", "decoder"):
                position = ".".join(parts[:3])
                if int(parts[3]) != chosen[position]:
                    continue
                key = ".".join([position, *parts[4:]])
            out[key] = value
        out["_extra_state"] = genotype.to_dict()
        return out

    def extract(self, genotype: GenotypeLike | None = None) -> SliceMamba:
        """A standalone :class:`SliceMamba` with (copies of) the weights of the path ``genotype``, on the supernet's
        device and in its train / eval mode; its output equals ``supernet(x, genotype)``."""
        state = {
            key: value.detach().clone() if isinstance(value, torch.Tensor) else value
            for key, value in self.subnet_state_dict(genotype).items()
        }
        with torch.device("meta"):
            net = SliceMamba(genotype=state["_extra_state"], **self._config)
        net.load_state_dict(state, assign=True)
        return net.train(self.training)
