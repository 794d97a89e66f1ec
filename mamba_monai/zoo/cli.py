"""``mamba-monai zoo ...``: pack bundles into a zoo, list a zoo's bundles, download one verified.

Fire-friendly: hang an instance on the main command line (``zoo = ZooCLI()``). Nothing heavy is imported until a
command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

__all__ = ["ZooCLI"]


def _fail(error: Exception) -> SystemExit:
    """A one-line error for the command line (bad input, checksum mismatch, unsafe zip) instead of a traceback."""
    return SystemExit(f"error: {error}")


class ZooCLI:
    """Bundle zoo: `pack` bundles into deterministic zips + model_info.json, `list` a zoo, `download` a bundle."""

    def pack(
        self,
        bundles_dir: str = "bundles",
        out_dir: str = "zoo",
        names=None,
        source_url_prefix: str | None = None,
        include_models: bool = False,
        progress: bool = True,
    ) -> None:
        """Pack bundles into <out_dir>/<name>_v<version>.zip and merge them into <out_dir>/model_info.json.

        Same inputs, same bytes: sorted entries under one <name>/ folder, fixed timestamps (1980-01-01) and modes.
        Left out: eval/, runs/, demo_data/, cache/, __pycache__, hidden files, and models/ unless --include_models.
        Files listed in a bundle's large_files.yml are downloaded (hash-checked) into the zip.

        Args:
            bundles_dir: folder holding the bundle folders.
            out_dir: the zoo folder to write (zips and model_info.json).
            names: bundles to pack, e.g. --names segmamba_brats,msmamba_microscopy (default: all).
            source_url_prefix: URL the zoo folder will be served under, e.g. https://host/zoo; by default the index
                records zip file names relative to itself.
            include_models: also pack models/ (trained weights; training checkpoints checkpoint* are left out).
            progress: show progress bars while fetching large files.
        """
        from mamba_monai.zoo.pack import INDEX_NAME, pack_zoo

        try:
            entries = pack_zoo(bundles_dir, out_dir, names, source_url_prefix, include_models, progress)
        except (ValueError, RuntimeError) as error:
            raise _fail(error) from error
        for entry in entries:
            print(f"{entry.zip_name}  sha1 {entry.checksum}  source {entry.source}")
        print(f"index: {out_dir}/{INDEX_NAME}")

    def list(self, index: str) -> None:
        """List the bundles and versions of a zoo index (newest version last).

        Args:
            index: URL or path of the zoo's model_info.json.
        """
        from mamba_monai.zoo.index import index_entries, read_index, version_order

        try:
            grouped = index_entries(read_index(index), str(index))
        except ValueError as error:
            raise _fail(error) from error
        for name, versions in sorted(grouped.items()):
            print(f"{name}: {', '.join(sorted(versions, key=version_order))}")

    def download(
        self,
        name: str,
        index: str,
        bundle_dir: str,
        version: str | None = None,
        overwrite: bool = False,
        progress: bool = True,
    ) -> None:
        """Download bundle NAME from a zoo into <bundle_dir>/<name>, verified, and print where it went.

        The zip's sha1 must match the index (a mismatch deletes it and fails) and no entry may be absolute, contain
        '..' or be a link; the bundle folder appears complete or not at all.

        Args:
            name: bundle name, e.g. segmamba_brats.
            index: URL or path of the zoo's model_info.json, e.g. http://127.0.0.1:8000/model_info.json.
            bundle_dir: folder receiving <name>/.
            version: version to fetch, e.g. --version 0.1.0 (default: the newest in the index).
            overwrite: replace an existing <bundle_dir>/<name>.
            progress: show the download progress bar.
        """
        from mamba_monai.zoo.download import download_bundle

        try:
            version = None if version is None else str(version)  # fire reads --version 1.0 as a float
            target = download_bundle(name, index, bundle_dir, version, overwrite, progress)
        except ValueError as error:  # unknown name/version, existing folder, checksum mismatch, unsafe zip
            raise _fail(error) from error
        print(f"downloaded {name} to {target.resolve()}")
