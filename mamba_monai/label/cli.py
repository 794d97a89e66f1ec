"""``mamba-monai label ...``: the MONAI Label server (python-fire methods)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LabelCLI"]


class LabelCLI:
    """Serve the bundles to MONAI Label clients (3D Slicer, OHIF, the REST API). Needs the ``label`` extra."""

    def serve(
        self,
        studies: str,
        models: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        bundles_dir: str | None = None,
        configs: str | None = None,
        app_dir: str | None = None,
        skip_trainers: bool = False,
    ) -> None:
        """Start the MONAI Label server; segmentation bundles answer with a label map, classification bundles with
        class probabilities. Bundles need trained weights (models/model.pt).

        Args:
            studies: folder of images to label (a BraTS study is one 4-channel NIfTI; 2D images for classifiers).
            models: comma-separated bundle names, e.g. segmamba_brats,msmamba_microscopy (default: every bundle
                with weights).
            host: address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
            port: port to listen on.
            bundles_dir: folder of bundles (default: bundles/ of this checkout).
            configs: comma-separated config files merged on top of inference.json/train.json, e.g. demo.json for
                weights trained by `mamba-monai demo`.
            app_dir: writable folder for MONAI Label's logs (default: STUDIES/.mamba_monai_label).
            skip_trainers: serve inference only.
        """
        from mamba_monai.label.server import serve_label_app

        try:
            serve_label_app(studies, models, host, port, bundles_dir, configs, app_dir, skip_trainers)
        except (RuntimeError, ValueError) as error:
            raise SystemExit(f"mamba-monai label serve: {error}") from None

    def brats_studies(self, source: str, studies: str, labels: bool = True, overwrite: bool = False) -> None:
        """Turn BraTS case folders (four modality files each) into MONAI Label studies: STUDIES/<case>.nii.gz, one
        4-channel NIfTI per case (FLAIR, T1, T1ce, T2), and the segmentations as labels for the trainer.

        Args:
            source: folder of BraTS case folders (2021 or 2023 naming), e.g. bundles/segmamba_brats/demo_data.
            studies: the studies folder to fill (created if needed).
            labels: copy the segmentations to STUDIES/labels/final/ (MONAI Label's reviewed labels).
            overwrite: replace studies that exist.
        """
        from mamba_monai.label.brats_studies import write_brats_studies

        try:
            written = write_brats_studies(source, studies, labels=labels, overwrite=overwrite)
        except ValueError as error:
            raise SystemExit(f"mamba-monai label brats-studies: {error}") from None
        print(f"{len(written)} BraTS studies in {Path(studies).resolve()}")
