"""Test-session set-up that must happen before numba is imported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# numba already runs one thread per core; BLAS threads on top only oversubscribe the cores and
# make the many small LAPACK calls of the LTI tests 10-20x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Compiled kernels are cached between runs (numba compile time dominates a cold suite).
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
# Without a GPU the CUDA kernels run in numba's simulator, so the cuda backend is still tested.
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
