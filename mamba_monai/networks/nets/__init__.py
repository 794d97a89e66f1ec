"""mamba_monai.networks.nets."""
