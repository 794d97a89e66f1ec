"""The MONAI Label app folder: ``main.py`` here is what ``monailabel start_server --app`` imports (it is copied to
a writable app folder by :func:`mamba_monai.label.server.prepare_app_dir`)."""
