"""Backend selection: ``"cpu"`` (numba), ``"cuda"`` (numba.cuda) or ``"auto"``."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from swarmsim.errors import SwarmsimError

BACKENDS = ("cpu", "cuda", "auto")


class BackendError(SwarmsimError):
    """An unknown backend name, or ``"cuda"`` requested where numba.cuda cannot run."""


def cuda_simulated() -> bool:
    """True when numba runs CUDA kernels in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    # numba.config sets its options from the environment at import: no declared attributes.
    return bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]


def cuda_available() -> bool:
    """True when a real CUDA GPU is usable through numba.cuda."""
    if cuda_simulated():
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # a broken driver install must not break the CPU path
        return False


def resolve_backend(name: str) -> str:
    """Map a backend name to ``"cpu"`` or ``"cuda"``; ``"auto"`` prefers a visible GPU."""
    if name not in BACKENDS:
        raise BackendError(f"backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "auto":
        return "cuda" if cuda_available() else "cpu"
    if name == "cuda" and not (cuda_available() or cuda_simulated()):
        raise BackendError(
            "backend: 'cuda' needs a visible NVIDIA GPU with numba-cuda installed "
            "(or NUMBA_ENABLE_CUDASIM=1 for the simulator); use 'cpu' or 'auto'"
        )
    return name


def array_module(backend: str) -> ModuleType:
    """The array module of a resolved backend: CuPy on a real GPU when installed, else NumPy."""
    if backend == "cuda" and not cuda_simulated():
        try:
            import cupy

            return cupy
        except ImportError:
            pass
    return np


def to_numpy(array) -> np.ndarray:
    """Host copy of a NumPy, CuPy or numba device array."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "get"):
        return array.get()
    if hasattr(array, "copy_to_host"):
        return array.copy_to_host()
    return np.asarray(array)
