"""Memory monitoring for a decoder node: system (container-aware), process and GPU memory."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psutil

_GB = 1024**3
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_memory_limit() -> tuple[int, int] | None:
    """(limit, usage) in bytes when this process runs under a cgroup memory limit, else None."""
    try:
        raw = (_CGROUP_ROOT / "memory.max").read_text().strip()  # cgroup v2
        if raw != "max":
            usage = int((_CGROUP_ROOT / "memory.current").read_text())
            return int(raw), usage
    except (OSError, ValueError):
        pass
    try:
        limit = int((_CGROUP_ROOT / "memory" / "memory.limit_in_bytes").read_text())  # cgroup v1
        usage = int((_CGROUP_ROOT / "memory" / "memory.usage_in_bytes").read_text())
        if limit < psutil.virtual_memory().total:
            return limit, usage
    except (OSError, ValueError):
        pass
    return None


def gpu_memory() -> dict[str, Any]:
    """GPU memory from NVML, else from torch, else zeros with the reason."""
    try:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        try:
            used = total = 0
            for i in range(pynvml.nvmlDeviceGetCount()):
                info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i))
                used += int(info.used)
                total += int(info.total)
        finally:
            pynvml.nvmlShutdown()
        if total:
            return {"gpu_available": True, "gpu_used": used, "gpu_total": total, "gpu_source": "nvml"}
        reason = "NVML found no GPU"
    except ImportError:
        reason = "nvidia-ml-py is not installed"
    except Exception as exc:  # NVMLError when no driver is present
        reason = f"NVML unavailable: {exc}"
    try:
        import torch

        if torch.cuda.is_available():
            used = total = 0
            for i in range(torch.cuda.device_count()):
                free, tot = torch.cuda.mem_get_info(i)
                used += tot - free
                total += tot
            return {"gpu_available": True, "gpu_used": used, "gpu_total": total, "gpu_source": "torch"}
        reason += "; torch sees no CUDA device"
    except ImportError:
        reason += "; no GPU framework installed"
    return {"gpu_available": False, "gpu_used": 0, "gpu_total": 0, "gpu_unavailable_reason": reason}


class MemoryManager:
    """Process-wide singleton; obtain it with ``MemoryManager.get_instance()``."""

    _instance: MemoryManager | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        self._gpu_cache: dict[str, Any] | None = None

    @classmethod
    def get_instance(cls) -> MemoryManager:
        """The one MemoryManager of this process, created on first use (thread-safe)."""
        if cls._instance is None:
            with cls._instance_lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    def get_memory_stats(self) -> dict[str, Any]:
        """Memory figures in GB and percent; under a cgroup limit, measured against the limit."""
        vm = psutil.virtual_memory()
        total, used = vm.total, vm.total - vm.available
        limited = cgroup_memory_limit()
        if limited is not None:
            total, used = limited
        if self._gpu_cache is None:
            self._gpu_cache = gpu_memory()
        gpu = self._gpu_cache if not self._gpu_cache["gpu_available"] else gpu_memory()
        rss = self._process.memory_info().rss
        stats: dict[str, Any] = {
            "system_memory_percent": round(100.0 * used / total, 2) if total else 0.0,
            "system_memory_used_gb": round(used / _GB, 3),
            "system_memory_total_gb": round(total / _GB, 3),
            "gpu_memory_percent": round(100.0 * gpu["gpu_used"] / gpu["gpu_total"], 2)
            if gpu["gpu_total"]
            else 0.0,
            "gpu_memory_used_gb": round(gpu["gpu_used"] / _GB, 3),
            "gpu_memory_total_gb": round(gpu["gpu_total"] / _GB, 3),
            "gpu_available": gpu["gpu_available"],
            "process_memory_gb": round(rss / _GB, 3),
            "process_memory_bytes": rss,
            "cgroup_limited": limited is not None,
        }
        if not gpu["gpu_available"]:
            stats["gpu_unavailable_reason"] = gpu["gpu_unavailable_reason"]
        return stats
