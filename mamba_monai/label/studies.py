"""Which studies of a MONAI Label datastore a bundle's trainer can read.

One studies folder may hold 2D images (PNG lesions, microscopy) and 3D volumes (BraTS) together; a bundle trains only
on the studies shaped as its network's input, read from the headers (``network_data_format`` of its metadata: the
number of spatial dimensions and of channels). This module does not import ``monailabel``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["study_problem", "usable_studies"]

logger = logging.getLogger(__name__)

_NIFTI = (".nii", ".nii.gz")


def _nifti_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    if not str(path).lower().endswith(_NIFTI):
        return None
    import nibabel as nib

    return tuple(int(s) for s in nib.load(str(path)).header.get_data_shape())


def study_problem(image: str, label: str | None, spatial_dims: int, channels: int) -> str | None:
    """Why a bundle whose network takes ``channels`` x ``spatial_dims``-D images cannot train on this study (None when
    it can). Only 3D bundles are checked in depth (NIfTI headers); 2D bundles need 2D image files.

    Args:
        image: the study's image file.
        label: its label file.
        spatial_dims: 2 or 3.
        channels: the network's input channels.
    """
    image_shape = _nifti_shape(image)
    if spatial_dims == 2:
        return f"'{Path(image).name}' is a NIfTI volume, not a 2D image" if image_shape is not None else None
    if image_shape is None:
        return f"'{Path(image).name}' is not a NIfTI volume"
    spatial = image_shape[:3]
    if channels > 1 and (len(image_shape) != 4 or image_shape[3] != channels):
        return f"'{Path(image).name}' has shape {image_shape}, not {channels} channels of a 3D volume"
    label_shape = _nifti_shape(label) if label else None
    if label and (label_shape is None or label_shape[:3] != spatial or len([s for s in label_shape if s > 1]) > 3):
        return f"its label '{Path(label).name}' has shape {label_shape}, not the image's {spatial}"
    return None


def usable_studies(datalist: Sequence[dict], spatial_dims: int, channels: int, bundle: str) -> list[dict]:
    """The items of ``datalist`` the bundle can train on; each skipped one is logged with its reason.

    Args:
        datalist: ``[{"image": ..., "label": ...}, ...]`` from the datastore.
        spatial_dims: the bundle's spatial dimensions.
        channels: the bundle's input channels.
        bundle: the bundle's name, for the log.
    """
    usable = []
    for item in datalist:
        try:
            problem = study_problem(item["image"], item.get("label"), spatial_dims, channels)
        except Exception as error:  # an unreadable header: the study is skipped, not the training
            problem = f"'{Path(item['image']).name}' cannot be read ({type(error).__name__}: {error})"
        if problem is None:
            usable.append(item)
        else:
            logger.warning("trainer %s: study skipped: %s", bundle, problem)
    return usable
