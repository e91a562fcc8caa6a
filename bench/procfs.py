"""``/proc/stat`` for the benchmarks: machine-wide CPU jiffies, to tell other load on the box."""

from __future__ import annotations


def proc_stat() -> dict[str, int] | None:
    """``{"total", "idle", "steal"}`` jiffies since boot (None where there is no /proc)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return {"total": sum(fields), "idle": fields[3] + fields[4], "steal": fields[7] if len(fields) > 7 else 0}
