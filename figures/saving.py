"""Writing figures: every figure as PNG (for viewing) and PDF (for papers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

__all__ = ["FORMATS", "save_figure"]

FORMATS = ("png", "pdf")


def save_figure(fig, out_dir, stem: str, dpi: int = 120) -> list[Path]:
    """Write ``fig`` as ``out_dir/stem.png`` and ``.pdf`` (tight bounding box), close it,
    and return the paths."""
    paths = []
    for ext in FORMATS:
        path = Path(out_dir) / f"{stem}.{ext}"
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths
