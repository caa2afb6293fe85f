"""What memory this process may still take: the machine's, its cgroup's, its rlimits' (layer 0).

Read by ``mlp._safetensors.available_memory`` (which bounds loads and networks before they
allocate) from /proc/meminfo, ``os.sysconf``, the cgroup files and ``resource``; no dependency.
"""

from __future__ import annotations

import os

try:                        # POSIX: the address-space limit (`ulimit -v`)
    import resource
except ImportError:         # pragma: no cover - Windows
    resource = None

__all__ = ["cgroup_headroom", "machine_available", "rlimit_headroom"]


def machine_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None     # "max": no limit


def cgroup_headroom() -> int | None:
    """The memory limit of this process's cgroup (v2, else v1) less what the group uses."""
    groups = ["/"]
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3 and (parts[1] == "" or "memory" in parts[1].split(",")):
                    groups.insert(0, parts[2])
    except OSError:
        return None
    best = None
    for group in groups:
        for limit, usage in ((f"/sys/fs/cgroup{group}/memory.max", f"/sys/fs/cgroup{group}/memory.current"),
                             (f"/sys/fs/cgroup/memory{group}/memory.limit_in_bytes",
                              f"/sys/fs/cgroup/memory{group}/memory.usage_in_bytes")):
            cap = _read_int(limit.replace("//", "/"))
            if cap is None or cap >= 2**60:          # v1 writes "no limit" as a huge number
                continue
            room = cap - (_read_int(usage.replace("//", "/")) or 0)
            best = room if best is None else min(best, room)
    return best


def rlimit_headroom() -> int | None:
    if resource is None:
        return None
    best = None
    for name, field in (("RLIMIT_AS", "VmSize:"), ("RLIMIT_DATA", "VmData:")):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        try:
            soft = resource.getrlimit(limit)[0]
        except (OSError, ValueError):
            continue
        if soft == resource.RLIM_INFINITY or soft < 0:
            continue
        room = soft - (_proc_status_bytes(field) or 0)
        best = room if best is None else min(best, room)
    return best


def _proc_status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
