"""mamba_monai.networks.blocks."""
