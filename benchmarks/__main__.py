"""`make bench`: run every benchmark and write docs/benchmarks.md (machine, versions, figures).

Each benchmark module has `run() -> list[dict]` with name, value, unit and optional ratio/note;
ratios are against a baseline measured in the same run. CI never runs this: wall time is noisy.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

MODULES = (
    "benchmarks.storage_writer",
    "benchmarks.runtime_bench",
    "benchmarks.fill_accuracy",
    "benchmarks.decision_latency",
    "benchmarks.modbus_bench",
    "benchmarks.console_latency",
)
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("trio", "sqlalchemy", "pymodbus"))
    return f"{cpu}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; {versions}"


def main() -> None:
    rows: list[str] = []
    for name in MODULES:
        print(f"running {name} ...", flush=True)
        for r in importlib.import_module(name).run():
            ratio = f"×{r['ratio']:.2f}" if "ratio" in r else ("baseline" if "baseline" in r["name"] else "")
            rows.append(f"| {r['name']} | {r['value']:,.2f} {r['unit']} | {ratio} | {r.get('note', '')} |")
            print(rows[-1])
    OUT.write_text(
        "# Benchmarks\n\n"
        f"Written by `make bench` on {dt.date.today().isoformat()}. Machine: {_machine()}.\n"
        "Ratios compare with the baseline of the same benchmark, measured in the same run.\n\n"
        "| benchmark | figure | ratio | note |\n|---|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
