"""The soak with random kills (``tests/fault/soak.py``), scaled down to run on every push: 2,000
jobs, two SIGKILLs of a random engine or worker process while they run. ``make soak`` is the
100,000-job run."""

from __future__ import annotations

from pathlib import Path

from .soak import run


async def test_soak_with_random_kills(tmp_path: Path) -> None:
    soak = await run(2000, tmp_path, kill_every=(0.5, 1.5), max_kills=2, work="0.05,0.15", stall_s=60)
    print(f"\n{soak}")
    report = soak.report
    assert report is not None
    assert len(soak.kills) == 2, "the jobs finished before both kills: the soak tested no fault"
    assert not report.lost and not report.dup_engine and not report.wrong_data, str(report)
    assert report.pending_entries == 0 and report.stream_entries == 0
    assert soak.stream_len <= soak.streams
    # nothing but the job hashes grows with the jobs: once they are gone, memory is back near
    # where it was before the first job (1 MB of slack for allocator pages and consumer names)
    assert soak.memory_mb["after job expiry"] <= soak.memory_mb["baseline"] + 1.0
