"""Which device a CTranslate2 pair runs on: a pair's ``device`` setting against this machine's GPUs.

A GPU counts only when CTranslate2 can use it: its CUDA build (the PyPI wheel) loads CUDA 12's
cuBLAS at its first call, so a machine without it gets the CPU for ``auto`` and a clear refusal
for ``cuda``, not a failure of every request.
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections.abc import Sequence

from .base import ModelLoadError

log = logging.getLogger(__name__)

# What CTranslate2's CUDA build (the PyPI wheel) opens on its first GPU call; the wheel ships none of them.
CUDA_LIBRARIES = ("libcublas.so.12",)
_DEVICE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def select_device(
    requested: str, cuda_devices: int, missing_libraries: Sequence[str] = ()
) -> tuple[str, int]:
    """The (device, index) to run on for a pair's ``device`` setting, given how many GPUs there are.

    ``auto`` is CUDA device 0 when there is one and CTranslate2 can use it (``missing_libraries``
    empty), else the CPU. Raises ModelLoadError when a CUDA device is asked for that this machine
    does not have, or cannot use for want of ``missing_libraries``.
    """
    match = _DEVICE.match(requested)
    if match is None:
        raise ModelLoadError(f"unknown device {requested!r}; use auto, cpu, cuda or cuda:N")
    kind, index = match.group(1), int(match.group(2) or 0)
    if kind == "auto":
        return ("cuda", 0) if cuda_devices > 0 and not missing_libraries else ("cpu", 0)
    if kind == "cpu":
        return "cpu", 0
    if cuda_devices == 0:
        raise ModelLoadError(
            f"device {requested!r} asked for, but CTranslate2 finds no CUDA device on this machine "
            "(use device: cpu or auto)"
        )
    if index >= cuda_devices:
        raise ModelLoadError(
            f"device {requested!r} asked for, but this machine has {cuda_devices} CUDA device(s) "
            f"(cuda:0 to cuda:{cuda_devices - 1})"
        )
    if missing_libraries:
        raise ModelLoadError(
            f"device {requested!r} asked for, but CTranslate2 cannot use the GPU: "
            f"{', '.join(missing_libraries)} cannot be loaded (its CUDA build needs CUDA 12's cuBLAS: "
            "install CUDA 12 or the nvidia-cublas-cu12 package where the loader finds it; "
            "use device: cpu or auto meanwhile)"
        )
    return "cuda", index


def cuda_device_count() -> int:
    import ctranslate2

    return int(ctranslate2.get_cuda_device_count())


def missing_cuda_libraries(names: Sequence[str] = CUDA_LIBRARIES) -> list[str]:
    """Those of ``names`` (CTranslate2's CUDA libraries) that this process cannot load."""
    missing = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def resolve_device(requested: str) -> tuple[str, int]:
    """``select_device`` on this machine: its CUDA devices, used only when CTranslate2 can load CUDA."""
    devices = cuda_device_count()
    missing = missing_cuda_libraries() if devices else []
    if missing and requested == "auto":
        log.warning(
            "a GPU is present but CTranslate2 cannot use it (%s cannot be loaded): device auto uses the CPU",
            ", ".join(missing),
        )
    return select_device(requested, devices, missing)
