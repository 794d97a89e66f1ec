"""mamba_monai.networks."""
