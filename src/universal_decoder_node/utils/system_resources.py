"""What the machine gives this process: memory (container-aware), cores, GPU memory.

Plain psutil reports the host; inside a container the kernel enforces the cgroup's limits,
so memory and cores are measured against those when they are set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import Any

import psutil

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


def process_tree_rss() -> int:
    """Resident memory of this process and every descendant, in bytes (pages shared after a fork
    count once per process, so this is an upper bound)."""
    me = psutil.Process()
    total = 0
    for process in (me, *me.children(recursive=True)):
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # a child that ended between listing and reading
    return total


def usable_cores() -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = (_CGROUP_ROOT / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def gpu_memory() -> dict[str, Any]:
    """GPU memory from NVML, else from an already imported torch, else zeros with the reason."""
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
    # Only a framework the process already uses: importing torch just to ask costs seconds and
    # hundreds of megabytes, which is what this module is meant to save.
    torch = sys.modules.get("torch")
    if torch is None:
        reason += "; no GPU framework loaded"
    elif torch.cuda.is_available():
        used = total = 0
        for i in range(torch.cuda.device_count()):
            free, tot = torch.cuda.mem_get_info(i)
            used += tot - free
            total += tot
        return {"gpu_available": True, "gpu_used": used, "gpu_total": total, "gpu_source": "torch"}
    else:
        reason += "; torch sees no CUDA device"
    return {"gpu_available": False, "gpu_used": 0, "gpu_total": 0, "gpu_unavailable_reason": reason}


def release_gpu_cache() -> bool | None:
    """Empty the GPU framework's allocator cache; None when no GPU framework is in use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    torch.cuda.empty_cache()
    return True


def trim_heap() -> bool:
    """Hand freed heap pages back to the OS (glibc only); without it RSS stays high after a cleanup."""
    path = ctypes.util.find_library("c")
    if not path or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(path)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
