"""Synthetic BraTS-like cases: four MR contrasts and a tumour label map, written as the challenge's NIfTI files.

The data are synthetic (no patient data can be downloaded here) but follow the real format and make the task
learnable: a head-shaped brain with white and grey matter, cortical CSF and ventricles, and one glioma-like tumour
(a necrotic core inside an enhancing rim inside peritumoral oedema) at a random position, with a random size and an
irregular outline. The contrasts follow the usual MR appearance:

========  ====  ====  ====  =======  ========  ==============
sequence  WM    GM    CSF   oedema   enh. rim  necrotic core
========  ====  ====  ====  =======  ========  ==============
FLAIR     0.85  1.0   0.25  1.9      1.55      1.2
T1        1.1   0.85  0.35  0.75     0.8       0.5
T1ce      1.1   0.88  0.38  0.78     2.1       0.5
T2        0.75  1.0   2.0   1.65     1.35      2.1
========  ====  ====  ====  =======  ========  ==============

(relative intensities; each volume then gets a smooth texture, a multiplicative bias field, Rician noise, a little
partial-volume blur and a random global scale). As in the challenge data the volumes are skull-stripped (background
exactly 0) unless ``skull_stripped=False``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy.ndimage import gaussian_filter

from mamba_monai.data.brats import BRATS_CHANNELS, BRATS_CODINGS, BRATS_NAMINGS, brats_coding, brats_file_name

__all__ = ["synthesize_brats_case", "synthetic_brats_case_id", "write_synthetic_brats"]

# tissue classes of the synthetic head
_BACKGROUND, _WM, _GM, _CSF, _ED, _ET, _NCR, _SCALP, _BONE = range(9)
# relative intensity of each tissue in each channel (FLAIR, T1, T1ce, T2): see the module docstring
_CONTRAST = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],  # background
        [0.85, 1.10, 1.10, 0.75],  # white matter
        [1.00, 0.85, 0.88, 1.00],  # grey matter
        [0.25, 0.35, 0.38, 2.00],  # CSF
        [1.90, 0.75, 0.78, 1.65],  # oedema (ED)
        [1.55, 0.80, 2.10, 1.35],  # enhancing tumour (ET)
        [1.20, 0.50, 0.50, 2.10],  # necrotic core (NCR)
        [0.70, 1.30, 1.30, 0.90],  # scalp (fat: bright on T1)
        [0.08, 0.08, 0.08, 0.08],  # skull bone
    ],
    dtype=np.float32,
)


def synthetic_brats_case_id(index: int, naming: str | int = "2021") -> str:
    """Case id of the ``index``-th synthetic case, in the style of the naming (``BraTS2021_00000``,
    ``BraTS-GLI-00000-000``)."""
    return f"BraTS2021_{index:05d}" if str(naming) == "2021" else f"BraTS-GLI-{index:05d}-000"


def write_synthetic_brats(
    root: str | os.PathLike,
    n_cases: int = 8,
    shape: tuple[int, int, int] = (64, 64, 64),
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    seed: int = 0,
    naming: str | int = "2021",
    coding: str | int | None = None,
    four_channel: bool = False,
    skull_stripped: bool = True,
) -> list[Path]:
    """Write ``n_cases`` synthetic BraTS-like case folders under ``root``.

    Naming ``"2021"``: ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``; naming ``"2023"``:
    ``<case>/<case>-{t2f,t1n,t1c,t2w,seg}.nii.gz``. Images are float32, labels uint8 (0 background, 1 NCR, 2 ED and
    4 or 3 ET, following ``coding``), all with the same affine (``spacing`` on the diagonal, volume centred on the
    origin). The output is a deterministic function of the arguments: the same seed gives the same bytes.

    Args:
        root: output folder (created if needed).
        n_cases: number of cases.
        shape: volume shape in voxels (each at least 16).
        spacing: voxel size in mm.
        seed: random seed; case ``i`` uses the stream ``(seed, i)``, so adding cases keeps the earlier ones.
        naming: file naming, ``"2021"`` or ``"2023"``.
        coding: label coding, ``"2021"`` (ET = 4) or ``"2023"`` (ET = 3); defaults to the naming's own.
        four_channel: also write ``<case>_image4.nii.gz`` (in both namings), one 4-channel NIfTI (channel last, in
            the order FLAIR, T1, T1ce, T2) as MONAI Label sends a multi-modal image.
        skull_stripped: background exactly 0 as in the challenge data; ``False`` adds scalp and skull.

    Returns:
        the case folders, in order.
    """
    naming = str(naming)
    if naming not in BRATS_NAMINGS:
        raise ValueError(f"write_synthetic_brats: naming must be '2021' or '2023', got {naming!r}")
    coding = brats_coding(naming if coding is None else coding)
    shape = tuple(int(s) for s in shape)
    spacing = tuple(float(s) for s in spacing)
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"write_synthetic_brats: shape must be three sizes of at least 16 voxels, got {shape}")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"write_synthetic_brats: spacing must be three positive sizes, got {spacing}")
    if n_cases < 1:
        raise ValueError(f"write_synthetic_brats: n_cases must be at least 1, got {n_cases}")

    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -(np.asarray(shape) - 1) / 2 * np.asarray(spacing)
    folders = []
    for index in range(n_cases):
        case = synthetic_brats_case_id(index, naming)
        folder = Path(root) / case
        folder.mkdir(parents=True, exist_ok=True)
        images, label = synthesize_brats_case(np.random.default_rng([seed, index]), shape, coding, skull_stripped)
        for channel, modality in enumerate(BRATS_CHANNELS):
            _save(images[channel], folder / brats_file_name(case, modality, naming), affine)
        _save(label, folder / brats_file_name(case, "seg", naming), affine)
        if four_channel:
            _save(np.moveaxis(images, 0, -1), folder / f"{case}_image4.nii.gz", affine)
        folders.append(folder)
    return folders


def synthesize_brats_case(
    rng: np.random.Generator, shape: tuple[int, int, int], coding: str | int = "2021", skull_stripped: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic case in memory.

    Args:
        rng: random generator (the only source of randomness).
        shape: volume shape.
        coding: label coding of the returned label map.
        skull_stripped: whether to leave out scalp and skull.

    Returns:
        ``(images, label)``: float32 (4, *shape) in the channel order FLAIR, T1, T1ce, T2, and uint8 ``shape``.
    """
    labels = BRATS_CODINGS[brats_coding(coding)]
    half = np.asarray(shape, dtype=np.float32) / 2
    grid = [
        (np.arange(s, dtype=np.float32) - (s - 1) / 2).reshape([-1 if a == i else 1 for a in range(3)])
        for i, s in enumerate(shape)
    ]

    # head: a slightly irregular ellipsoidal brain, longer front to back; cortex outside, white matter inside
    brain_axes = half * np.array([0.70, 0.82, 0.72], dtype=np.float32) * rng.uniform(0.93, 1.0)
    brain_distance = _ellipsoid_distance(grid, np.zeros(3), brain_axes) * (1 + 0.04 * _smooth_field(rng, grid, half))
    brain = brain_distance <= 1.0
    tissue = np.where(brain, _GM, _BACKGROUND).astype(np.uint8)
    white = 8.0 * (0.72 - brain_distance) + 1.2 * _smooth_field(rng, grid, half / 2) > 0
    tissue[brain & white] = _WM
    tissue[brain & (brain_distance > 0.93)] = _CSF
    for side in (-1, 1):  # lateral ventricles
        centre = brain_axes * np.array([0.17 * side, 0.05, 0.12])
        tissue[_ellipsoid_distance(grid, centre, brain_axes * np.array([0.09, 0.33, 0.16])) <= 1.0] = _CSF
    if not skull_stripped:
        head_distance = _ellipsoid_distance(grid, np.zeros(3), brain_axes * 1.18)
        tissue[(head_distance <= 1.0) & ~brain] = _BONE
        tissue[(head_distance <= 1.0) & (head_distance > 0.93)] = _SCALP

    ncr, et, ed = _tumour(rng, grid, brain, brain_axes)
    tissue[ed], tissue[et], tissue[ncr] = _ED, _ET, _NCR
    label = np.zeros(shape, dtype=np.uint8)
    label[ncr], label[ed], label[et] = labels["NCR"], labels["ED"], labels["ET"]

    # intensities: tissue contrast x texture x bias field, partial-volume blur, Rician noise, global scale
    foreground = tissue != _BACKGROUND
    texture = 1 + 0.05 * _smooth_field(rng, grid, half / 3)
    lesion_texture = 1 + 0.10 * _smooth_field(rng, grid, half / 4) * (ed | et)
    images = np.empty((4, *shape), dtype=np.float32)
    for channel in range(4):
        image = _CONTRAST[tissue, channel] * texture * lesion_texture
        image = gaussian_filter(image, sigma=0.6) * np.exp(0.15 * _smooth_field(rng, grid, half * 1.5))
        noise = rng.normal(0.0, 0.035, size=(2, *shape)).astype(np.float32)
        image = np.sqrt((image + noise[0]) ** 2 + noise[1] ** 2) * foreground
        images[channel] = image * np.float32(rng.uniform(300.0, 1200.0))
    return images, label


def _tumour(rng, grid, brain, brain_axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the necrotic core, enhancing rim and oedema of one tumour, all non-empty and nested."""
    for _ in range(20):
        direction = rng.normal(size=3)
        centre = brain_axes * direction / np.linalg.norm(direction) * rng.uniform(0.0, 0.5) ** (1 / 3)
        aspect = rng.uniform(0.8, 1.25, size=3).astype(np.float32)
        r_wt = rng.uniform(0.32, 0.50) * brain_axes.min()
        r_tc = r_wt * rng.uniform(0.55, 0.75)
        r_ncr = r_tc * rng.uniform(0.50, 0.70)
        # keep every layer at least ~2 voxels thick, whatever the volume size
        r_ncr = max(r_ncr, 1.5)
        r_tc = max(r_tc, r_ncr + 2.0)
        r_wt = max(r_wt, r_tc + 2.0)
        outline = _smooth_field(rng, grid, np.full(3, r_wt, dtype=np.float32), offset=centre)
        core_outline = _smooth_field(rng, grid, np.full(3, r_tc, dtype=np.float32), offset=centre)
        distance = _ellipsoid_distance(grid, centre, aspect)
        whole = brain & (distance * (1 + 0.22 * outline) <= r_wt)
        core = brain & (distance * (1 + 0.12 * core_outline) <= r_tc)
        ncr = core & (distance * (1 + 0.12 * core_outline + 0.08 * outline) <= r_ncr)
        et = core & ~ncr
        ed = whole & ~core
        if ncr.any() and et.any() and ed.any():
            return ncr, et, ed
    raise RuntimeError("could not place a synthetic tumour with all three regions; use a larger shape")


def _ellipsoid_distance(grid, centre, axes) -> np.ndarray:
    """Normalised ellipsoidal distance (1 on the surface) of every voxel from ``centre`` (voxel units)."""
    return np.sqrt(sum(((g - c) / a) ** 2 for g, c, a in zip(grid, centre, axes))).astype(np.float32)


def _smooth_field(rng, grid, wavelength, n_waves: int = 6, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Smooth random field of unit variance: a sum of plane waves about ``wavelength`` (per axis, voxels) long."""
    field = 0.0
    for _ in range(n_waves):
        direction = rng.normal(size=3)
        k = direction / np.linalg.norm(direction) * rng.uniform(0.5, 1.5) * np.pi / np.asarray(wavelength)
        phase = rng.uniform(0.0, 2 * np.pi)
        field = field + np.cos(
            sum(np.float32(ki) * (g - np.float32(o)) for ki, g, o in zip(k, grid, offset)) + np.float32(phase)
        )
    return (field * np.float32(np.sqrt(2.0 / n_waves))).astype(np.float32)


def _save(array: np.ndarray, path: Path, affine: np.ndarray) -> None:
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, str(path))
