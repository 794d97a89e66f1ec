"""2D image loading: every format and bit depth round-trips to float32 (C, H, W) in [0, 1], rows first."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Resized
from PIL import Image

from mamba_monai.data.image_io import LUMA_WEIGHTS, is_image_file, load_image_2d, read_image_2d_info
from mamba_monai.data.transforms.load_image_2d import LoadImage2D, LoadImage2Dd

H, W = 12, 10  # not square, so that a transposed image cannot pass


def _gradient(dtype=np.uint8, channels=0, seed=0):
    """Pixels that differ along rows, along columns and between channels."""
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(seed)
    shape = (H, W, channels) if channels else (H, W)
    pixels = rng.integers(0, top, size=shape, dtype=np.int64)
    pixels[0, 0] = top  # a bright top-left corner
    return pixels.astype(dtype)


def _itk():
    return pytest.importorskip("itk")


def test_png_8bit_grey_rgb_rgba(tmp_path):
    grey, rgb, rgba = _gradient(), _gradient(channels=3, seed=1), _gradient(channels=4, seed=2)
    for name, pixels in (("grey.png", grey), ("rgb.png", rgb), ("rgba.png", rgba)):
        Image.fromarray(pixels).save(tmp_path / name)

    loaded = load_image_2d(tmp_path / "grey.png")
    assert loaded.dtype == np.float32 and loaded.shape == (1, H, W)
    np.testing.assert_allclose(loaded[0], grey / 255.0, atol=1e-6)
    replicated = np.repeat(grey[None] / 255.0, 3, 0)
    np.testing.assert_allclose(load_image_2d(tmp_path / "grey.png", channels=3), replicated, atol=1e-6)

    loaded = load_image_2d(tmp_path / "rgb.png")
    np.testing.assert_allclose(loaded, np.moveaxis(rgb, -1, 0) / 255.0, atol=1e-6)
    luma = np.tensordot(np.asarray(LUMA_WEIGHTS), np.moveaxis(rgb, -1, 0) / 255.0, axes=1)
    np.testing.assert_allclose(load_image_2d(tmp_path / "rgb.png", channels=1)[0], luma, atol=1e-6)

    # alpha is dropped, not blended: the colour is unchanged whatever the alpha
    colour = np.moveaxis(rgba[..., :3], -1, 0) / 255.0
    np.testing.assert_allclose(load_image_2d(tmp_path / "rgba.png", channels=3), colour, atol=1e-6)
    info = read_image_2d_info(tmp_path / "rgba.png")
    assert (info.height, info.width, info.channels, info.dtype, info.format) == (H, W, 4, "uint8", "PNG")


def test_palette_and_grey_alpha_png(tmp_path):
    rgb = _gradient(channels=3, seed=3)
    Image.fromarray(rgb).quantize(16).save(tmp_path / "palette.png")
    expected = np.asarray(Image.open(tmp_path / "palette.png").convert("RGB"))
    np.testing.assert_allclose(load_image_2d(tmp_path / "palette.png"), np.moveaxis(expected, -1, 0) / 255.0, atol=1e-6)
    grey_alpha = _gradient(channels=2, seed=4)
    Image.fromarray(grey_alpha, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(load_image_2d(tmp_path / "la.png")[0], grey_alpha[..., 0] / 255.0, atol=1e-6)


def test_png_16bit_grey_and_colour(tmp_path):
    grey = _gradient(np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    info = read_image_2d_info(tmp_path / "grey16.png")
    assert (info.dtype, info.bits, info.channels) == ("uint16", 16, 1)
    np.testing.assert_allclose(load_image_2d(tmp_path / "grey16.png")[0], grey / 65535.0, rtol=1e-6, atol=1e-7)

    itk = _itk()
    rgb = _gradient(np.uint16, channels=3, seed=5)
    itk.imwrite(itk.GetImageFromArray(rgb, ttype=itk.VectorImage[itk.US, 2]), str(tmp_path / "rgb16.png"))
    assert Image.open(tmp_path / "rgb16.png").mode == "RGB"  # PIL alone would give 8 bits per sample
    loaded = load_image_2d(tmp_path / "rgb16.png")
    np.testing.assert_allclose(loaded, np.moveaxis(rgb, -1, 0) / 65535.0, rtol=1e-6, atol=1e-7)


def test_tiff_16bit_grey_rgb_planar_and_pages(tmp_path):
    grey = _gradient(np.uint16)
    rgb = _gradient(np.uint16, channels=3, seed=6)
    tifffile.imwrite(tmp_path / "grey16.tif", grey)
    tifffile.imwrite(tmp_path / "rgb16.tiff", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as pages:
        for page in (grey, grey // 2, grey // 3):
            pages.write(page, photometric="minisblack")

    np.testing.assert_allclose(load_image_2d(tmp_path / "grey16.tif")[0], grey / 65535.0, rtol=1e-6, atol=1e-7)
    expected = np.moveaxis(rgb, -1, 0) / 65535.0
    np.testing.assert_allclose(load_image_2d(tmp_path / "rgb16.tiff"), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(load_image_2d(tmp_path / "planar.tif"), expected, rtol=1e-6, atol=1e-7)
    info = read_image_2d_info(tmp_path / "pages.tif")
    assert info.frames == 3 and (info.height, info.width) == (H, W)
    np.testing.assert_allclose(load_image_2d(tmp_path / "pages.tif")[0], grey / 65535.0, rtol=1e-6, atol=1e-7)
    # 8-bit RGB TIFF through PIL
    Image.fromarray(_gradient(channels=3, seed=7)).save(tmp_path / "rgb8.tif")
    np.testing.assert_allclose(
        load_image_2d(tmp_path / "rgb8.tif"), np.moveaxis(_gradient(channels=3, seed=7), -1, 0) / 255.0, atol=1e-6
    )


def test_jpeg_grey_rgb_and_exif_orientation(tmp_path):
    # smooth content, so that JPEG's loss is small
    rows, cols = np.meshgrid(np.linspace(0, 1, 48), np.linspace(0, 1, 40), indexing="ij")
    grey = np.round(255 * rows).astype(np.uint8)  # (48, 40): dark top, bright bottom
    rgb = np.round(255 * np.stack([rows, cols, 1 - rows], -1)).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.jpg", quality=95)
    Image.fromarray(rgb).save(tmp_path / "rgb.jpeg", quality=95)
    loaded = load_image_2d(tmp_path / "grey.jpg")
    assert loaded.shape == (1, 48, 40)
    assert np.abs(loaded[0] - grey / 255.0).mean() < 0.01
    loaded = load_image_2d(tmp_path / "rgb.jpeg")
    assert loaded.shape == (3, 48, 40)
    assert np.abs(loaded - np.moveaxis(rgb, -1, 0) / 255.0).mean() < 0.02

    # a photo stored sideways with EXIF orientation 6 (rotate 90 degrees clockwise to display)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(grey).save(tmp_path / "sideways.jpg", quality=95, exif=exif)
    info = read_image_2d_info(tmp_path / "sideways.jpg")
    upright = load_image_2d(tmp_path / "sideways.jpg")
    assert (info.height, info.width) == (40, 48) and upright.shape == (1, 40, 48)
    assert np.abs(upright[0] - np.rot90(grey, k=-1) / 255.0).mean() < 0.01


def test_dicom_grey_16bit_rgb_multiframe_and_bits_stored(tmp_path):
    itk = _itk()
    grey = _gradient()
    grey16 = _gradient(np.uint16, seed=8)
    rgb = _gradient(channels=3, seed=9)
    frames = np.stack([grey, 255 - grey, grey // 2])
    itk.imwrite(itk.image_from_array(grey), str(tmp_path / "grey.dcm"))
    itk.imwrite(itk.image_from_array(grey16), str(tmp_path / "grey16.dcm"))
    itk.imwrite(itk.image_from_array(rgb, is_vector=True), str(tmp_path / "rgb.dcm"))
    itk.imwrite(itk.image_from_array(frames), str(tmp_path / "cine.dcm"))

    np.testing.assert_allclose(load_image_2d(tmp_path / "grey.dcm")[0], grey / 255.0, atol=1e-6)
    np.testing.assert_allclose(load_image_2d(tmp_path / "grey16.dcm")[0], grey16 / 65535.0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(load_image_2d(tmp_path / "rgb.dcm"), np.moveaxis(rgb, -1, 0) / 255.0, atol=1e-6)
    info = read_image_2d_info(tmp_path / "cine.dcm")
    assert (info.format, info.frames, info.height, info.width) == ("DICOM", 3, H, W)
    first_frame = np.repeat(grey[None] / 255.0, 3, 0)
    np.testing.assert_allclose(load_image_2d(tmp_path / "cine.dcm", channels=3), first_frame, atol=1e-6)

    # DICOM files often have no extension: recognised by their preamble
    (tmp_path / "IM0001").write_bytes((tmp_path / "grey.dcm").read_bytes())
    assert is_image_file(tmp_path / "IM0001")
    np.testing.assert_allclose(load_image_2d(tmp_path / "IM0001")[0], grey / 255.0, atol=1e-6)

    # 12 significant bits in 16-bit samples scale by 4095: patch BitsStored (0028,0101) from 16 to 12
    small = (grey16 % 4096).astype(np.uint16)
    itk.imwrite(itk.image_from_array(small), str(tmp_path / "bits12.dcm"))
    data = (tmp_path / "bits12.dcm").read_bytes()
    tag = b"\x28\x00\x01\x01\x02\x00\x00\x00\x10\x00"  # implicit VR little endian: tag, length 2, value 16
    assert data.count(tag) == 1
    (tmp_path / "bits12.dcm").write_bytes(data.replace(tag, tag[:-2] + b"\x0c\x00"))
    assert read_image_2d_info(tmp_path / "bits12.dcm").bits == 12
    np.testing.assert_allclose(load_image_2d(tmp_path / "bits12.dcm")[0], small / 4095.0, rtol=1e-6, atol=1e-7)


def test_transforms_return_channel_first_metatensor(tmp_path):
    rgb = _gradient(channels=3, seed=10)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    image = LoadImage2D(channels=3)(tmp_path / "rgb.png")
    assert isinstance(image, MetaTensor) and image.dtype == torch.float32 and image.shape == (3, H, W)
    assert image.meta["filename_or_obj"] == str(tmp_path / "rgb.png")
    assert tuple(image.meta["spatial_shape"]) == (H, W) and image.affine.shape == (3, 3)
    grey = LoadImage2D(channels=1, dtype=torch.float64)(str(tmp_path / "rgb.png"))
    assert grey.shape == (1, H, W) and grey.dtype == torch.float64

    pipeline = Compose([LoadImage2Dd(keys="image", channels=3), Resized(keys="image", spatial_size=(24, 20))])
    out = pipeline({"image": str(tmp_path / "rgb.png"), "label": 2})
    assert out["image"].shape == (3, 24, 20) and out["label"] == 2
    assert 0.0 <= float(out["image"].min()) and float(out["image"].max()) <= 1.0
    with pytest.raises(ValueError, match="channels"):
        LoadImage2D(channels=2)


def test_unreadable_files_raise_naming_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ValueError, match="missing.png"):
        load_image_2d(missing)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(_gradient()).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(ValueError, match="truncated.png"):
        LoadImage2D()(truncated)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png"):
        read_image_2d_info(text)
    fake_dicom = tmp_path / "fake.dcm"
    fake_dicom.write_bytes(b"\0" * 128 + b"DICM" + b"junk" * 8)
    with pytest.raises(ValueError, match="fake.dcm"):
        LoadImage2Dd(keys="image")({"image": str(fake_dicom)})
