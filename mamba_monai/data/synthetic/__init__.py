"""Synthetic, labelled, learnable data sets written in the formats of the real ones (seeded, deterministic)."""

from mamba_monai.data.synthetic.brats import synthesize_brats_case, synthetic_brats_case_id, write_synthetic_brats

__all__ = ["synthesize_brats_case", "synthetic_brats_case_id", "write_synthetic_brats"]
