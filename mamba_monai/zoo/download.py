"""Download a bundle from a zoo index, verified: the zip's SHA-1 must match the index and its entries must be safe
before anything is extracted, and the bundle folder appears whole or not at all.

Steps, all inside a private staging folder ``<bundle_dir>/.<name>.download-*`` (same file system, removed at the end
whatever happens):

1. resolve ``name`` (and ``version``, the newest by default) through the index (URL or path);
2. fetch the zip with MONAI's ``download_url`` (progress bar);
3. compare its SHA-1 with the index; on a mismatch delete it and raise ``ChecksumMismatchError``;
4. refuse absolute, ``..``, symbolic-link or out-of-folder entries (``UnsafeZipError``);
5. hand over to ``monai.bundle.download(name=..., url=..., bundle_dir=<staging>)``, which finds the verified zip in
   place (no second transfer), extracts it and checks the bundle's ``monai_version`` against the installed MONAI;
6. rename ``<staging>/<name>`` to ``<bundle_dir>/<name>``.

``monai.bundle.download(url=...)`` alone would extract before any checksum could be compared, hence steps 2-4 first.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from mamba_monai.zoo.checksum import sha1_of_file
from mamba_monai.zoo.index import ZooEntry, read_index, resolve_entry, resolve_source
from mamba_monai.zoo.safe_zip import check_zip_entries

__all__ = ["ChecksumMismatchError", "download_bundle"]


class ChecksumMismatchError(ValueError):
    """The downloaded zip is not the one the index describes (corrupted or tampered with)."""


def _fetch(url: str, zip_path: Path, progress: bool) -> None:
    from monai.apps.utils import download_url

    with warnings.catch_warnings():  # we check the sha1 ourselves right after, against the index
        warnings.filterwarnings("ignore", message="No hash value provided")
        download_url(url, zip_path, hash_val=None, progress=progress)
    if not zip_path.is_file():
        raise RuntimeError(f"download of {url} produced no file")


def _extract_with_monai(name: str, url: str, staging: Path) -> Path:
    from monai.bundle import download

    summary_logger = logging.getLogger("monai.bundle.scripts")  # its input summary would print "source: monaihosting"
    level = summary_logger.level
    summary_logger.setLevel(logging.WARNING)  # warnings (e.g. monai_version newer than installed) still show
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No hash value provided")
            download(name=name, url=url, bundle_dir=str(staging), progress=False)
    finally:
        summary_logger.setLevel(level)
    extracted = staging / name
    if not (extracted / "configs" / "metadata.json").is_file():
        raise ValueError(f"the zip from {url} has no {name}/configs/metadata.json: not a bundle named {name!r}")
    return extracted


def download_bundle(
    name: str,
    index: str | os.PathLike,
    bundle_dir: str | os.PathLike,
    version: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Download bundle ``name`` listed in the zoo ``index`` into ``<bundle_dir>/<name>``; returns that folder.

    Args:
        name: bundle name, e.g. ``segmamba_brats``.
        index: URL or path of the zoo's ``model_info.json``.
        bundle_dir: folder that receives ``<name>/``.
        version: bundle version such as ``"0.1.0"``; the newest in the index when ``None``.
        overwrite: replace an existing ``<bundle_dir>/<name>``; otherwise that is an error.
        progress: show the download progress bar.

    Raises:
        ValueError: unknown name/version (listing what exists), existing target folder.
        ChecksumMismatchError: the zip's SHA-1 differs from the index (the zip is deleted).
        UnsafeZipError: an entry would land outside ``<bundle_dir>/<name>``.
    """
    entry: ZooEntry = resolve_entry(read_index(index), name, version, location=str(index))
    url = resolve_source(entry.source, index)
    bundle_dir = Path(bundle_dir)
    target = bundle_dir / entry.name
    if target.exists() and not overwrite:
        raise ValueError(f"{target} already exists; remove it, choose another bundle_dir, or pass overwrite=True")
    bundle_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.download-", dir=bundle_dir))
    try:
        zip_path = staging / f"{entry.name}.zip"
        _fetch(url, zip_path, progress)
        actual = sha1_of_file(zip_path)
        if actual != entry.checksum:
            zip_path.unlink()
            raise ChecksumMismatchError(
                f"sha1 of {entry.zip_name} from {url} is {actual}, the index {index} expects {entry.checksum}: "
                "the file is corrupted or was tampered with; it was deleted"
            )
        check_zip_entries(zip_path, top_level=entry.name)
        extracted = _extract_with_monai(entry.name, url, staging)
        if target.exists():  # overwrite: move the old folder into staging, so it goes with it
            os.replace(target, staging / f"{entry.name}.previous")
        os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
