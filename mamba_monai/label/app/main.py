"""MONAI Label entry point: ``monailabel start_server --app DIR`` imports ``DIR/main.py`` and instantiates the
MONAILabelApp subclass it finds there, :class:`mamba_monai.label.bundle_app.MambaMonaiLabelApp`."""

from mamba_monai.label.bundle_app import MambaMonaiLabelApp

__all__ = ["MambaMonaiLabelApp"]
