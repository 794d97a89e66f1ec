"""mamba_monai.metrics."""
