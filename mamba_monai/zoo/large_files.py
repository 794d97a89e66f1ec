"""A bundle's ``large_files.yml``: weights kept out of version control and fetched when the bundle is packed.

Format (MONAI model zoo)::

    large_files:
      - path: "models/model.pt"            # where the file goes, relative to the bundle folder
        url: "https://host/model.pt"       # http(s)://, file://, or a local path (relative to the bundle folder)
        hash_val: "0a1b..."                # optional, checked when given
        hash_type: "md5"                   # md5 | sha1 | sha256 | sha512 (MONAI's default: sha256)

``.yaml`` and ``.json`` spellings are read too. As model-zoo's release CI does, packing downloads every listed file
into the zip (checking its hash) and leaves the ``large_files`` file itself out, so a zoo zip is complete offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mamba_monai.zoo.index import is_url

__all__ = ["LARGE_FILES_NAMES", "LargeFile", "fetch_large_files", "find_large_files_config", "read_large_files"]

LARGE_FILES_NAMES = ("large_files.yml", "large_files.yaml", "large_files.json")


@dataclass(frozen=True)
class LargeFile:
    """One entry of ``large_files.yml``.

    Args:
        path: destination inside the bundle, POSIX-style and relative (``models/model.pt``).
        url: where to fetch it.
        hash_val: expected hash, or ``None`` (not checked).
        hash_type: hash algorithm of ``hash_val``.
    """

    path: str
    url: str
    hash_val: str | None = None
    hash_type: str = "sha256"


def find_large_files_config(bundle_path: str | os.PathLike) -> Path | None:
    """The bundle's ``large_files.{yml,yaml,json}``, ``None`` if it has none; more than one is an error."""
    found = [Path(bundle_path) / name for name in LARGE_FILES_NAMES if (Path(bundle_path) / name).is_file()]
    if len(found) > 1:
        raise ValueError(f"{bundle_path} has several large-file lists ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def _checked_path(config: Path, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{config}: every large_files entry needs a non-empty 'path', got {value!r}")
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"{config}: large file path {value!r} must be relative to the bundle folder, without '..'")
    if path.name in LARGE_FILES_NAMES:
        raise ValueError(f"{config}: large file path {value!r} would overwrite the large-file list itself")
    return path.as_posix()


def read_large_files(bundle_path: str | os.PathLike) -> list[LargeFile]:
    """Read and validate the bundle's large-file list; ``[]`` when it has none.

    Args:
        bundle_path: the bundle folder.
    """
    from monai.bundle import ConfigParser

    config = find_large_files_config(bundle_path)
    if config is None:
        return []
    content = ConfigParser.load_config_file(config)
    if not isinstance(content, dict) or not isinstance(content.get("large_files"), list):
        raise ValueError(f"{config} must hold a 'large_files' list of {{path, url, hash_val, hash_type}} entries")
    files, seen = [], set()
    for item in content["large_files"]:
        if not isinstance(item, dict):
            raise ValueError(f"{config}: large_files entries must be mappings, got {item!r}")
        path = _checked_path(config, item.get("path"))
        if path in seen:
            raise ValueError(f"{config}: large file path {path!r} is listed twice")
        seen.add(path)
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError(f"{config}: large file {path!r} needs a 'url'")
        if not is_url(url):  # a local file, relative to the bundle folder
            url = (Path(bundle_path) / url).resolve().as_uri()
        files.append(LargeFile(path, url, item.get("hash_val") or None, item.get("hash_type") or LargeFile.hash_type))
    return files


def fetch_large_files(files: list[LargeFile], destination: str | os.PathLike, progress: bool = True) -> dict[str, Path]:
    """Download each large file to ``destination/<path>`` with MONAI's ``download_url`` (hash checked when given);
    returns ``{path: local file}``.

    Args:
        files: entries from ``read_large_files``.
        destination: a scratch folder.
        progress: show download progress bars.
    """
    from monai.apps.utils import download_url

    fetched = {}
    for item in files:
        target = Path(destination) / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            download_url(item.url, target, hash_val=item.hash_val, hash_type=item.hash_type, progress=progress)
        except Exception as error:
            raise RuntimeError(f"cannot fetch large file {item.path!r} from {item.url}: {error}") from error
        fetched[item.path] = target
    return fetched
