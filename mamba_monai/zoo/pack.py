"""Pack bundles into a zoo: one deterministic ``<name>_v<version>.zip`` per bundle and a ``model_info.json`` index.

A zip holds one top-level folder ``<name>/`` with the bundle's files in sorted order, each stamped 1980-01-01 00:00
with mode 0644 and deflated, and no directory entries (as model-zoo's ``zip -D -X`` after ``touch``): the same
inputs give the same bytes, whatever the files' timestamps, permissions or the order the file system lists them in.

What goes in:

- everything in the bundle folder except run-time outputs and clutter: ``eval/``, ``runs/``, ``demo_data/``,
  ``cache/`` at the top level; ``__pycache__/``, ``*.pyc`` and hidden files (``.*``) anywhere;
- ``models/`` only on request (``include_models=True``: all of it except training checkpoints ``checkpoint*``),
  since it holds whatever the last local run left there;
- the files of ``large_files.yml``, fetched (hash-checked) into the zip at their ``path``; they take precedence over
  a local file of the same path, and the list itself is left out (model-zoo's release convention).

The version comes from ``configs/metadata.json``; the index is merged into ``<out_dir>/model_info.json`` atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from mamba_monai.utils.atomic_files import atomic_destination
from mamba_monai.zoo.checksum import sha1_of_file
from mamba_monai.zoo.index import ZooEntry, update_index
from mamba_monai.zoo.large_files import LARGE_FILES_NAMES, fetch_large_files, read_large_files

__all__ = [
    "INDEX_NAME",
    "ZIP_DATE_TIME",
    "bundle_version",
    "list_bundles",
    "pack_bundle",
    "pack_zoo",
    "select_bundle_files",
    "write_deterministic_zip",
]

INDEX_NAME = "model_info.json"
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record
FILE_MODE = 0o644
EXCLUDED_TOP_LEVEL = frozenset({"eval", "runs", "demo_data", "cache"})
EXCLUDED_ANYWHERE = frozenset({"__pycache__"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")


def bundle_version(bundle_path: str | os.PathLike) -> str:
    """The ``version`` of ``<bundle_path>/configs/metadata.json``."""
    metadata_file = Path(bundle_path) / "configs" / "metadata.json"
    if not metadata_file.is_file():
        raise ValueError(f"{bundle_path} is not a bundle: {metadata_file} does not exist")
    try:
        version = json.loads(metadata_file.read_text(encoding="utf-8")).get("version")
    except (json.JSONDecodeError, AttributeError) as error:
        raise ValueError(f"{metadata_file} is not a JSON object: {error}") from error
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise ValueError(f"{metadata_file}: 'version' must be a version string such as '0.1.0', got {version!r}")
    return version


def _skipped(relative: Path, include_models: bool) -> bool:
    parts = relative.parts
    if parts[0] in EXCLUDED_TOP_LEVEL or (parts[0] == "models" and not include_models):
        return True
    if parts[0] == "models" and len(parts) > 1 and parts[-1].startswith("checkpoint"):
        return True
    if relative.as_posix() in LARGE_FILES_NAMES:
        return True
    return any(part.startswith(".") or part in EXCLUDED_ANYWHERE for part in parts) or relative.suffix == ".pyc"


def select_bundle_files(bundle_path: str | os.PathLike, include_models: bool = False) -> dict[str, Path]:
    """The files of a bundle folder that go into its zip: ``{relative POSIX path: file}``, sorted.

    Args:
        bundle_path: the bundle folder.
        include_models: also take ``models/`` (except ``checkpoint*`` files).
    """
    root = Path(bundle_path)
    selected = {}
    for folder, subfolders, filenames in os.walk(root):
        subfolders.sort()
        for filename in filenames:
            path = Path(folder) / filename
            relative = path.relative_to(root)
            if not _skipped(relative, include_models) and path.is_file():
                selected[relative.as_posix()] = path
    return dict(sorted(selected.items()))


def write_deterministic_zip(files: dict[str, Path], zip_path: str | os.PathLike, top_level: str) -> Path:
    """Write ``files`` (``{relative path: file}``) under ``<top_level>/`` into ``zip_path`` reproducibly, through a
    temporary file in the same folder (a reader never sees half a zip); returns the path.

    Args:
        files: what to store, keyed by the path inside the bundle folder.
        zip_path: the zip to write.
        top_level: the folder name every entry starts with.
    """
    zip_path = Path(zip_path)
    with atomic_destination(zip_path) as temporary:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for relative in sorted(files):
                info = zipfile.ZipInfo(f"{top_level}/{relative}", date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, whatever the packing machine is
                info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
                info.file_size = os.path.getsize(files[relative])
                with open(files[relative], "rb") as source, archive.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
    return zip_path


def _source(zip_name: str, source_url_prefix: str | None) -> str:
    return zip_name if not source_url_prefix else f"{source_url_prefix.rstrip('/')}/{zip_name}"


def pack_bundle(
    bundle_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    source_url_prefix: str | None = None,
    include_models: bool = False,
    progress: bool = True,
) -> ZooEntry:
    """Write ``<out_dir>/<name>_v<version>.zip`` for one bundle; returns its index entry (the index is not touched).

    Args:
        bundle_path: the bundle folder; its name is the bundle name.
        out_dir: where the zip goes.
        source_url_prefix: URL the zoo will be served under; ``None`` records the zip's file name, which downloads
            resolve against the index's own location.
        include_models: also pack ``models/`` (see the module docstring).
        progress: show progress bars while fetching large files.
    """
    bundle_path = Path(bundle_path)
    name = bundle_path.resolve().name
    if not NAME_PATTERN.match(name):
        raise ValueError(f"bundle folder name {name!r} ({bundle_path}) must be letters, digits, '_', '.', '-'")
    version = bundle_version(bundle_path)
    out_dir = Path(out_dir).resolve()
    if out_dir == bundle_path.resolve() or bundle_path.resolve() in out_dir.parents:
        raise ValueError(f"out_dir {out_dir} is inside the bundle {bundle_path}; pick a folder outside it")
    entry_zip = f"{name}_v{version}.zip"
    files = select_bundle_files(bundle_path, include_models)
    with tempfile.TemporaryDirectory(prefix=f"{name}-large-files-") as scratch:
        files.update(fetch_large_files(read_large_files(bundle_path), scratch, progress=progress))
        zip_path = write_deterministic_zip(files, out_dir / entry_zip, top_level=name)
    return ZooEntry(name, version, sha1_of_file(zip_path), _source(entry_zip, source_url_prefix))


def list_bundles(bundles_dir: str | os.PathLike) -> list[str]:
    """Names of the bundle folders (those with ``configs/metadata.json``) directly under ``bundles_dir``."""
    root = Path(bundles_dir)
    if not root.is_dir():
        raise ValueError(f"bundles_dir {bundles_dir} is not a folder")
    return sorted(p.name for p in root.iterdir() if (p / "configs" / "metadata.json").is_file())


def pack_zoo(
    bundles_dir: str | os.PathLike = "bundles",
    out_dir: str | os.PathLike = "zoo",
    names=None,
    source_url_prefix: str | None = None,
    include_models: bool = False,
    progress: bool = True,
) -> list[ZooEntry]:
    """Pack bundles of ``bundles_dir`` into ``out_dir`` and merge their entries into ``out_dir/model_info.json``.

    Args:
        bundles_dir: folder of bundle folders.
        out_dir: zoo folder (zips + ``model_info.json``); other entries already in its index are kept.
        names: bundle names to pack (a list or a comma-separated string); all bundles when ``None``.
        source_url_prefix: URL the zoo folder will be served under (e.g. ``https://host/zoo``); ``None`` records
            relative sources, resolved against the index's location when downloading.
        include_models: also pack each bundle's ``models/`` folder.
        progress: show progress bars while fetching large files.
    """
    available = list_bundles(bundles_dir)
    if names is None:
        names = available
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = [str(n) for n in names]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(
            f"no bundle {', '.join(map(repr, unknown))} in {bundles_dir}; available: {', '.join(available) or 'none'}"
        )
    if not names:
        raise ValueError(f"nothing to pack: {bundles_dir} has no bundle folder (with configs/metadata.json)")
    entries = [pack_bundle(Path(bundles_dir) / n, out_dir, source_url_prefix, include_models, progress) for n in names]
    update_index(Path(out_dir) / INDEX_NAME, entries)
    return entries
