"""The progress plot of an evolutionary search record (best and mean top-k score per generation)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mamba_monai.utils.atomic_files import save_figure_atomically

__all__ = ["plot_search_progress"]


def plot_search_progress(record: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """PNG of the best score so far and the mean top-k score per generation (first entry of the score)."""
    from matplotlib.figure import Figure

    rows = record["generations"]
    generations = [r["generation"] for r in rows]
    name = (record.get("score_names") or ["score"])[0]
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    axes.plot(generations, [r["best"]["score"][0] for r in rows], marker="o", label=f"best {name}")
    axes.plot(generations, [r["top_k_mean_score"][0] for r in rows], marker=".", label=f"mean top-k {name}")
    best_own = [(r["generation"], r["best_in_generation"]["score"][0]) for r in rows if r["best_in_generation"]]
    if best_own:
        axes.plot(*zip(*best_own), linestyle=":", label=f"best of the generation {name}")
    axes.set_xlabel("generation")
    axes.set_ylabel(name)
    axes.set_title("evolutionary search")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return save_figure_atomically(figure, path)
