"""The zoo index: a ``model_info.json`` in the format of MONAI's model zoo.

Each key is ``<name>_v<version>`` and maps to ``{"checksum": <sha1 of the zip>, "source": <where the zip is>}``, as in
Project-MONAI/model-zoo's ``models/model_info.json``. A ``source`` may be a full URL (``https://``, ``http://``,
``file://``) or, for a zoo hosted as one folder, a path relative to the index itself (``segmamba_brats_v0.1.0.zip``):
it is then resolved against the index's own URL or folder, so a packed folder can be served as it is.

Versions are ordered as versions (``packaging.version``: 0.10.0 is newer than 0.9.1), not as strings.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

from packaging.version import InvalidVersion, Version

__all__ = [
    "ZooEntry",
    "index_entries",
    "is_url",
    "read_index",
    "resolve_entry",
    "resolve_source",
    "split_key",
    "update_index",
    "version_order",
]

SHA1_PATTERN = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ZooEntry:
    """One bundle version of a zoo index.

    Args:
        name: bundle name (its folder name, the zip's top-level folder).
        version: the bundle's ``configs/metadata.json`` version.
        checksum: hex SHA-1 of the zip.
        source: URL of the zip, or a path relative to the index.
    """

    name: str
    version: str
    checksum: str
    source: str

    @property
    def key(self) -> str:
        """The index key, ``<name>_v<version>``."""
        return f"{self.name}_v{self.version}"

    @property
    def zip_name(self) -> str:
        """The zip's file name, ``<name>_v<version>.zip``."""
        return f"{self.key}.zip"

    def as_index_value(self) -> dict:
        return {"checksum": self.checksum, "source": self.source}


def split_key(key: str) -> tuple[str, str]:
    """``"segmamba_brats_v0.1.0"`` -> ``("segmamba_brats", "0.1.0")`` (split at the last ``_v``, so names may contain
    ``_v``); raises ValueError for a key without one."""
    name, sep, version = key.rpartition("_v")
    if not sep or not name or not version:
        raise ValueError(f"index key {key!r} is not of the form '<name>_v<version>'")
    return name, version


def version_order(version: str):
    """Sort key of a version string: valid versions by ``packaging.version.Version``, after any invalid ones."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version)


def is_url(location: str) -> bool:
    """True for ``scheme://...`` locations (a Windows drive letter such as ``C:`` is a path, not a scheme)."""
    return len(urlparse(str(location)).scheme) > 1


def read_index(location: str | os.PathLike, timeout: float = 60.0) -> dict:
    """Read a ``model_info.json`` from a URL or a local path; returns the raw mapping.

    Args:
        location: ``http(s)://`` or ``file://`` URL, or a path to the JSON file.
        timeout: seconds to wait for a URL.
    """
    location = str(location)
    try:
        if is_url(location):
            with urllib.request.urlopen(location, timeout=timeout) as response:
                text = response.read().decode("utf-8")
        else:
            text = Path(location).read_text(encoding="utf-8")
    except (OSError, urllib.error.URLError) as error:
        raise ValueError(f"cannot read the zoo index {location!r}: {error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the zoo index {location!r} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"the zoo index {location!r} must be a JSON object of '<name>_v<version>' keys")
    return data


def index_entries(data: dict, location: str = "<index>") -> dict[str, dict[str, ZooEntry]]:
    """Validate a raw index and group it: ``{name: {version: ZooEntry}}``.

    Args:
        data: the mapping read from ``model_info.json``.
        location: where it came from, for error messages.
    """
    grouped: dict[str, dict[str, ZooEntry]] = {}
    for key, value in data.items():
        try:
            name, version = split_key(key)
        except ValueError as error:
            raise ValueError(f"the zoo index {location!r}: {error}") from None
        if not isinstance(value, dict) or not isinstance(value.get("source"), str) or not value["source"]:
            raise ValueError(f"the zoo index {location!r}: entry {key!r} needs a non-empty 'source' string")
        checksum = value.get("checksum")
        if not isinstance(checksum, str) or not SHA1_PATTERN.match(checksum.lower()):
            raise ValueError(
                f"the zoo index {location!r}: entry {key!r} needs a 'checksum' of 40 hex digits (sha1), "
                f"got {checksum!r}"
            )
        grouped.setdefault(name, {})[version] = ZooEntry(name, version, checksum.lower(), value["source"])
    return grouped


def _available(grouped: dict[str, dict[str, ZooEntry]]) -> str:
    if not grouped:
        return "none (the index is empty)"
    return "; ".join(
        f"{name} ({', '.join(sorted(versions, key=version_order))})" for name, versions in sorted(grouped.items())
    )


def resolve_entry(data: dict, name: str, version: str | None = None, location: str = "<index>") -> ZooEntry:
    """The index entry of bundle ``name`` at ``version`` (the newest version when ``None``).

    Args:
        data: the mapping read from ``model_info.json``.
        name: bundle name.
        version: bundle version, e.g. ``"0.1.0"``; ``None`` for the newest.
        location: where the index came from, for error messages.

    Raises:
        ValueError: unknown name or version; the message lists what the index has.
    """
    grouped = index_entries(data, location)
    if name not in grouped:
        raise ValueError(f"bundle {name!r} is not in the zoo index {location!r}; available: {_available(grouped)}")
    versions = grouped[name]
    if version is None:
        return versions[max(versions, key=version_order)]
    version = str(version)
    if version not in versions:
        raise ValueError(
            f"bundle {name!r} has no version {version!r} in the zoo index {location!r}; available versions: "
            + ", ".join(sorted(versions, key=version_order))
        )
    return versions[version]


def resolve_source(source: str, location: str | os.PathLike) -> str:
    """The URL to download ``source`` from: full URLs as they are; relative ones against the index's location.

    Args:
        source: the entry's ``source``.
        location: the index's URL or path.
    """
    if is_url(source):
        return source
    location = str(location)
    if is_url(location):
        return urljoin(location, source)
    return (Path(location).resolve().parent / source).resolve().as_uri()


def update_index(index_path: str | os.PathLike, entries) -> dict:
    """Merge ``entries`` into the ``model_info.json`` at ``index_path`` (created if absent) and write it atomically,
    keys ordered by name then version; returns the merged mapping.

    Re-packing a version whose bytes changed replaces its checksum, with a warning: published versions should not
    change (bump ``version`` in ``configs/metadata.json`` instead).

    Args:
        index_path: the ``model_info.json`` to update.
        entries: ``ZooEntry`` objects.
    """
    from mamba_monai.utils.atomic_files import write_json_atomically

    index_path = Path(index_path)
    data = read_index(index_path) if index_path.exists() else {}
    index_entries(data, str(index_path))  # refuse to merge into a malformed index
    for entry in entries:
        old = data.get(entry.key)
        if old is not None and old.get("checksum") != entry.checksum:
            warnings.warn(
                f"{index_path}: {entry.key} already had checksum {old.get('checksum')}, now {entry.checksum}; "
                "the bundle changed without a version bump (configs/metadata.json 'version')",
                stacklevel=2,
            )
        data[entry.key] = entry.as_index_value()
    ordered = {key: data[key] for key in sorted(data, key=lambda k: (split_key(k)[0], version_order(split_key(k)[1])))}
    write_json_atomically(index_path, ordered)
    return ordered
