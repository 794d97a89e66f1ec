"""Bundle zoo: deterministic bundle zips with a MONAI model-zoo ``model_info.json`` index, and verified downloads."""

from mamba_monai.zoo.checksum import sha1_of_file
from mamba_monai.zoo.download import ChecksumMismatchError, download_bundle
from mamba_monai.zoo.index import ZooEntry, read_index, resolve_entry, resolve_source, update_index
from mamba_monai.zoo.large_files import LargeFile, read_large_files
from mamba_monai.zoo.pack import pack_bundle, pack_zoo, write_deterministic_zip
from mamba_monai.zoo.safe_zip import UnsafeZipError, check_zip_entries

__all__ = [
    "ChecksumMismatchError",
    "LargeFile",
    "UnsafeZipError",
    "ZooEntry",
    "check_zip_entries",
    "download_bundle",
    "pack_bundle",
    "pack_zoo",
    "read_index",
    "read_large_files",
    "resolve_entry",
    "resolve_source",
    "sha1_of_file",
    "update_index",
    "write_deterministic_zip",
]
