"""Image output for the command line: colour maps, side-by-side panels, atomic PNG/NPZ writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Thermal palette ("iron"): black - purple - red - orange - yellow - white, evenly spaced stops.
IRON = np.array(
    [
        [0, 0, 0],
        [40, 0, 100],
        [150, 0, 150],
        [220, 50, 40],
        [250, 150, 0],
        [255, 230, 60],
        [255, 255, 255],
    ],
    np.float64,
)


def colorize(values: np.ndarray, low: float, high: float, palette: np.ndarray = IRON) -> np.ndarray:
    """Map values (H, W) linearly from [low, high] onto a palette; (H, W, 3) uint8.

    Non-finite values (pixels without data) are drawn black.
    """
    values = np.asarray(values, np.float64)
    span = high - low if high > low else 1.0
    x = np.clip((np.nan_to_num(values, nan=low) - low) / span, 0.0, 1.0) * (len(palette) - 1)
    i = np.minimum(x.astype(np.int64), len(palette) - 2)
    w = (x - i)[..., None]
    rgb = (1.0 - w) * palette[i] + w * palette[i + 1]
    rgb[~np.isfinite(values)] = 0.0
    return np.rint(rgb).astype(np.uint8)


def robust_range(
    values: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.5
) -> tuple[float, float]:
    """Percentile display range of the finite values."""
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, [lo_pct, hi_pct])
    return float(low), float(max(high, low + 1e-6))


def side_by_side(*images: np.ndarray, gap: int = 4) -> np.ndarray:
    """Panels (H, W, 3) uint8 of equal height joined horizontally with a white gap."""
    height = max(im.shape[0] for im in images)
    parts = []
    for k, im in enumerate(images):
        if k:
            parts.append(np.full((height, gap, 3), 255, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates owner-only files; results get the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 image (H, W) or (H, W, 3) as PNG, atomically (temp file + rename)."""
    _atomic(Path(path), lambda tmp: Image.fromarray(np.ascontiguousarray(image)).save(tmp, "PNG"))


def write_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Write arrays to a compressed .npz, atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            # numpy's stub lets **arrays reach the allow_pickle: bool keyword.
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]

    _atomic(Path(path), write)


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    _atomic(Path(path), lambda tmp: Path(tmp).write_text(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write a binary file atomically."""
    _atomic(Path(path), lambda tmp: Path(tmp).write_bytes(data))


def log_ticks(ax: Any, Ns: np.ndarray) -> None:
    """Ticks at the studied N and plain numbers on the y axis (no 6 x 10^-1 labels)."""
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    ax.set_xticks(Ns, [f"{n:g}" for n in Ns])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.margins(y=0.08)
