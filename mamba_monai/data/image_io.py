"""Read 2D images of any common medical format into arrays: PNG, JPEG, TIFF, BMP/GIF/WebP and DICOM frames.

The format is recognised from the file's first bytes, not from its name (DICOM files often have no extension). The
reader of each format is the one that keeps every bit of it:

- PIL for PNG, JPEG, BMP, GIF, WebP and most TIFFs (EXIF orientation applied, so rows are always the image's rows);
- ITK for colour PNGs with 16 bits per sample (PIL would cut them to 8 bits) and for DICOM (GDCM decodes the usual
  transfer syntaxes: raw, RLE, JPEG, JPEG-LS, JPEG 2000);
- tifffile for TIFFs PIL would degrade (colour with more than 8 bits per sample, floating-point colour).

Every reader returns an array shaped (H, W, C) (rows first) in the stored sample type, with C = 1 (grey), 2 (grey +
alpha), 3 (RGB) or 4 (RGBA). Multi-frame files (DICOM cine loops, multi-page TIFF, animated GIF) give their first
frame. :func:`load_image_2d` turns that into a float32 (C, H, W) array in [0, 1].
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "LUMA_WEIGHTS",
    "Image2DInfo",
    "image_2d_to_unit_chw",
    "image_format",
    "is_image_file",
    "load_image_2d",
    "read_image_2d",
    "read_image_2d_info",
    "to_unit_range",
]

#: file extensions taken as images when a folder is searched (files without extension are DICOM if they say so)
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".gif",
    ".webp",
    ".dcm",
    ".dicom",
)
#: ITU-R BT.601 luma weights (as PIL's RGB -> L conversion)
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PIL_EQUIVALENT_MODES = {
    "1": "L",
    "La": "LA",
    "PA": "RGBA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}


class Image2DInfo(NamedTuple):
    """What the header of a 2D image says (no pixel data read).

    Attributes:
        height: number of rows (after EXIF orientation for photos).
        width: number of columns.
        channels: stored samples per pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
        dtype: numpy name of the sample type as read (``"uint8"``, ``"uint16"``, ``"float32"``...).
        bits: significant bits per sample of integer data (e.g. DICOM BitsStored 12 in uint16), else ``None``.
        frames: number of frames (DICOM cine loop, TIFF pages, GIF frames); only the first one is read.
        format: ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"DICOM"``, or PIL's name of another format.
    """

    height: int
    width: int
    channels: int
    dtype: str
    bits: int | None
    frames: int
    format: str


def image_format(path: str | os.PathLike) -> str | None:
    """The format of an image file from its first bytes: ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"DICOM"``, or ``None``
    when it is none of these (PIL may still know it). A file named ``*.dcm``/``*.dicom`` without the DICOM preamble
    (old implicit-VR files) counts as DICOM.

    Args:
        path: the file.
    """
    with open(path, "rb") as stream:
        head = stream.read(132)
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in _TIFF_SIGNATURES:
        return "TIFF"
    if head[128:132] == b"DICM" or Path(path).suffix.lower() in (".dcm", ".dicom"):
        return "DICOM"
    return None


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether a file found in a data folder is an image: a known extension, or no extension and a DICOM preamble.
    Hidden files (``.*``) and macOS resource forks are not.

    Args:
        path: the file.
    """
    path = Path(path)
    if path.name.startswith(".") or "__MACOSX" in path.parts:
        return False
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return True
    if suffix == "" and path.is_file():
        with open(path, "rb") as stream:
            return stream.read(132)[128:132] == b"DICM"
    return False


def read_image_2d_info(path: str | os.PathLike) -> Image2DInfo:
    """Read the header of a 2D image (size, channels, sample type), without decoding its pixels.

    Args:
        path: PNG, JPEG, TIFF, DICOM, or another format PIL opens.

    Raises:
        ValueError: the file does not exist, or cannot be read as a 2D image (the message names it and says why).
    """
    path = _existing(path)
    try:
        fmt = image_format(path)
        if fmt == "DICOM":
            return _dicom_info(path)
        if fmt == "TIFF":
            try:
                return _tiff_info(path)
            except Exception:  # tifffile cannot parse it: PIL may (and otherwise says why not)
                pass
        return _pil_info(path, fmt)
    except ValueError:
        raise
    except Exception as error:  # readers raise many types (OSError, RuntimeError, struct.error, ...)
        raise ValueError(f"cannot read '{path}' as a 2D image: {type(error).__name__}: {error}") from error


def read_image_2d(path: str | os.PathLike) -> tuple[np.ndarray, Image2DInfo]:
    """Read the (first frame of the) image stored in a file, samples as stored.

    Args:
        path: PNG, JPEG, TIFF, DICOM, or another format PIL opens.

    Returns:
        the pixels as an array (H, W, C) of the stored sample type (C = 1, 2, 3 or 4), and the header.

    Raises:
        ValueError: the file does not exist or cannot be decoded (the message names it and says why).
    """
    path = _existing(path)
    info = read_image_2d_info(path)
    try:
        if info.format == "DICOM":
            array = _read_with_itk(path, dicom=True)
        elif info.format == "PNG" and info.channels > 1 and info.dtype == "uint16":
            array = _read_with_itk(path, dicom=False)  # PIL would cut 16-bit colour to 8 bits
        elif info.format == "TIFF" and _tiff_needs_tifffile(info):
            array = _read_tiff(path)
        else:
            try:
                array = _read_with_pil(path, info)
            except Exception:
                if info.format != "TIFF":
                    raise
                array = _read_tiff(path)  # e.g. a compression PIL's libtiff lacks
    except Exception as error:
        raise ValueError(
            f"cannot decode the pixels of '{path}' ({info.format}): {type(error).__name__}: {error}"
        ) from error
    array = array.reshape(array.shape[0], array.shape[1], -1)
    if array.shape != (info.height, info.width, info.channels):
        raise ValueError(
            f"'{path}': decoded pixels have shape {array.shape} but the header says "
            f"{(info.height, info.width, info.channels)} (H, W, C)"
        )
    return array, info


def to_unit_range(array: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Scale samples to float32 in [0, 1].

    Unsigned integers are divided by their full range (255 for 8 bits, 65535 for 16 bits, or ``2**bits - 1`` when
    ``bits`` significant bits are given, as DICOM's BitsStored); booleans become 0/1; floats already in [0, 1] are
    kept; signed integers and other floats are min-max scaled per image (a constant image gives zeros).

    Args:
        array: samples of any shape.
        bits: significant bits of unsigned integer samples, ``None`` for the whole type.
    """
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        type_bits = np.iinfo(array.dtype).bits
        bits = type_bits if bits is None or not 0 < bits <= type_bits else bits
        return np.clip(array.astype(np.float64) / float(2**bits - 1), 0.0, 1.0).astype(np.float32)
    values = array.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(array.shape, np.float32)
    low, high = float(finite.min()), float(finite.max())
    if np.issubdtype(array.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        scaled = values
    else:
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.clip(np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float32)


def load_image_2d(path: str | os.PathLike, channels: int | None = None) -> np.ndarray:
    """Load a 2D image as float32 (C, H, W) in [0, 1]: :func:`read_image_2d`, then :func:`image_2d_to_unit_chw`.

    Args:
        path: the image file.
        channels: 1 (grey), 3 (RGB), or ``None`` to keep the stored channels (1 or 3, alpha dropped).

    Raises:
        ValueError: bad ``channels``; the file cannot be read; the image has more than four channels.
    """
    _check_channels(channels)
    array, info = read_image_2d(path)
    return image_2d_to_unit_chw(array, info, channels, name=str(path))


def image_2d_to_unit_chw(
    array: np.ndarray, info: Image2DInfo, channels: int | None = None, name: str = "the image"
) -> np.ndarray:
    """Turn pixels as read by :func:`read_image_2d` into float32 (C, H, W) in [0, 1].

    Samples are scaled by :func:`to_unit_range` (16-bit by 65535, DICOM by ``2**BitsStored - 1``), alpha is dropped,
    grey is replicated to three channels when ``channels=3``, RGB becomes grey with the ITU-R BT.601 weights (0.299,
    0.587, 0.114) when ``channels=1``.

    Args:
        array: (H, W, C) pixels, C = 1 grey, 2 grey + alpha, 3 RGB or 4 RGBA.
        info: the image's header (for the significant bits).
        channels: 1, 3, or ``None`` to keep the stored channels (1 or 3).
        name: what to call the image in error messages (its file).
    """
    _check_channels(channels)
    if array.ndim != 3 or not 1 <= array.shape[-1] <= 4:
        raise ValueError(
            f"'{name}' has pixel array shape {array.shape}: expected (H, W, C) with grey, grey+alpha, RGB or RGBA"
        )
    colour = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]  # drop alpha
    image = np.moveaxis(to_unit_range(colour, info.bits), -1, 0)
    if channels == 3 and image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    elif channels == 1 and image.shape[0] == 3:
        image = np.clip(np.tensordot(np.asarray(LUMA_WEIGHTS, np.float32), image, axes=1)[None], 0.0, 1.0)
    return np.ascontiguousarray(image, dtype=np.float32)


def _check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")


# ----------------------------------------------------------------------------------------------------------- helpers


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image file '{path}' does not exist" if not path.exists() else f"'{path}' is not a file")
    return path


def _png_header(path: Path) -> tuple[int, int]:
    """Bit depth and colour type from the PNG IHDR chunk."""
    with open(path, "rb") as stream:
        head = stream.read(26)
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise ValueError(f"'{path}' is not a valid PNG (no IHDR chunk)")
    return struct.unpack(">BB", head[24:26])


def _pil_info(path: Path, fmt: str | None) -> Image2DInfo:
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientations that swap rows and columns
            width, height = height, width
        mode = _PIL_EQUIVALENT_MODES.get(image.mode, image.mode)
        if mode == "P":
            mode = "RGBA" if "transparency" in image.info else "RGB"
        frames = int(getattr(image, "n_frames", 1))
        name = image.format or fmt or "image"
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(mode, 1)
    bits = 8
    if mode.startswith("I;16"):
        dtype, bits = "uint16", 16
    elif mode == "I":
        dtype, bits = "int32", None
    elif mode == "F":
        dtype, bits = "float32", None
    elif mode in ("L", "LA", "RGB", "RGBA"):
        dtype = "uint8"
    else:
        raise ValueError(f"'{path}': unsupported PIL image mode {image.mode!r}")
    if fmt == "PNG":
        bit_depth, colour_type = _png_header(path)
        if bit_depth == 16:  # PIL reads 16-bit grey as I;16 (or I), but colour as 8-bit: ITK reads those instead
            dtype, bits = "uint16", 16
    return Image2DInfo(height, width, channels, dtype, bits, frames, name)


def _read_with_pil(path: Path, info: Image2DInfo) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        mode = _PIL_EQUIVALENT_MODES.get(image.mode, image.mode)
        if mode == "P":
            mode = "RGBA" if "transparency" in image.info else "RGB"
        if mode != image.mode:
            image = image.convert(mode)
        array = np.asarray(image)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if info.dtype == "uint16" and array.dtype != np.uint16:  # I;16B (big-endian) or a 16-bit PNG read as mode I
        array = array.astype(np.uint16)
    return array


def _tiff_info(path: Path) -> Image2DInfo:
    """TIFF header: PIL's for the TIFFs PIL reads exactly (it knows orientation, palettes, MINISWHITE), tifffile's
    for those PIL would degrade (colour with more than 8 bits, float colour) or cannot open."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        samples = int(page.samplesperpixel)
        shape = dict(zip(page.axes, page.shape))
        dtype = np.dtype(page.dtype).name
        bits = int(page.bitspersample) if np.issubdtype(page.dtype, np.unsignedinteger) else None
        info = Image2DInfo(int(shape["Y"]), int(shape["X"]), samples, dtype, bits, len(tiff.pages), "TIFF")
    if _tiff_needs_tifffile(info):
        return info
    try:
        return _pil_info(path, "TIFF")
    except Exception:
        return info


def _tiff_needs_tifffile(info: Image2DInfo) -> bool:
    return info.channels > 1 and info.dtype != "uint8"


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        array = page.asarray()
        axes = page.axes
    if "S" in axes:  # planar configuration "separate" stores (S, Y, X)
        array = np.moveaxis(array, axes.index("S"), -1)
    return array


def _itk_image_io(path: Path):
    import itk

    image_io = itk.ImageIOFactory.CreateImageIO(str(path), itk.CommonEnums.IOFileMode_ReadMode)
    if image_io is None:
        raise ValueError(f"'{path}': no ITK reader recognises this file")
    image_io.SetFileName(str(path))
    image_io.ReadImageInformation()
    return image_io


def _dicom_info(path: Path) -> Image2DInfo:
    image_io = _itk_image_io(path)
    dims = [int(image_io.GetDimensions(i)) for i in range(image_io.GetNumberOfDimensions())]
    if len(dims) < 2:
        raise ValueError(f"DICOM '{path}' holds no 2D image (dimensions {dims})")
    frames = int(np.prod(dims[2:])) if len(dims) > 2 else 1
    dtype = _itk_component_dtype(image_io)
    bits = None
    if np.issubdtype(dtype, np.unsignedinteger):
        metadata = image_io.GetMetaDataDictionary()
        bits = np.iinfo(dtype).bits
        if metadata.HasKey("0028|0101"):
            try:
                bits = int(str(metadata["0028|0101"]).strip()) or bits
            except ValueError:
                pass
    return Image2DInfo(dims[1], dims[0], int(image_io.GetNumberOfComponents()), dtype.name, bits, frames, "DICOM")


_ITK_COMPONENT_DTYPES = {
    "unsigned_char": "uint8",
    "char": "int8",
    "unsigned_short": "uint16",
    "short": "int16",
    "unsigned_int": "uint32",
    "int": "int32",
    "unsigned_long": "uint64",
    "long": "int64",
    "unsigned_long_long": "uint64",
    "long_long": "int64",
    "float": "float32",
    "double": "float64",
}


def _itk_component_dtype(image_io) -> np.dtype:
    name = image_io.GetComponentTypeAsString(image_io.GetComponentType())
    return np.dtype(_ITK_COMPONENT_DTYPES.get(name, "float32"))


def _read_with_itk(path: Path, dicom: bool) -> np.ndarray:
    """Pixels read by ITK as float (exact for integers up to 24 bits), cast back to the stored sample type."""
    import itk

    image_io = _itk_image_io(path)
    dimension = 3 if image_io.GetNumberOfDimensions() > 2 else 2
    reader = itk.ImageFileReader[itk.VectorImage[itk.F, dimension]].New(FileName=str(path))
    if dicom:
        reader.SetImageIO(itk.GDCMImageIO.New())
    reader.Update()
    array = itk.array_from_image(reader.GetOutput())  # (frames, H, W, C) or (H, W, C): rows first
    if dimension == 3:
        array = array[0]
    dtype = _itk_component_dtype(image_io)
    return array.astype(dtype) if dtype.kind in "ui" else array
