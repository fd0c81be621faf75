"""Figures measured in a running process, one definition for the soak and the benchmarks: a
percentile of samples, and the process's resident memory."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

__all__ = ["percentile", "rss_kib"]


def percentile(values: Sequence[float], q: int) -> float:
    """The `q`th percentile (1-99), interpolated between samples (`statistics.quantiles`,
    inclusive); the one sample of a single-sample list; NaN for none."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def rss_kib() -> int:
    """This process's resident set now (Linux /proc), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise OSError("no VmRSS in /proc/self/status")
