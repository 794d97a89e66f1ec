"""SHA-1 of a file, the checksum MONAI's model zoo records for every bundle zip in ``model_info.json``."""

from __future__ import annotations

import hashlib
import os

__all__ = ["sha1_of_file"]


def sha1_of_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-1 digest of the file at ``path``, read in chunks (bundles with weights can be large).

    Args:
        path: file to hash.
        chunk_size: bytes read at a time.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
