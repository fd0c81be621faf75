"""`make bench`: run every benchmark and write docs/benchmarks.md (machine, versions, figures).

    python -m benchmarks                      # all of them (make bench)
    python -m benchmarks benchmarks.poll_capacity ...   # only these; the other sections stay

Each benchmark module has `run() -> list[dict]` with name, value, unit and optional ratio/note;
ratios are against a baseline measured in the same run. A module may also have `NOTES`: markdown
printed under its table (how it measures, what its figures do and do not show). Each module has a
section of its own in the file, with the date and machine of the run that wrote it.
CI never runs this: wall time is noisy.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

MODULES = (
    "benchmarks.storage_writer",
    "benchmarks.runtime_bench",
    "benchmarks.fill_accuracy",
    "benchmarks.frozen_scale",
    "benchmarks.decision_latency",
    "benchmarks.modbus_bench",
    "benchmarks.poll_capacity",
    "benchmarks.rtu_utilisation",
    "benchmarks.console_latency",
    "benchmarks.console_flood",
    "benchmarks.platform_drain",
    "benchmarks.platform_strangers",
    "benchmarks.sync_isolation",
    "benchmarks.soak",
)
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
_HEAD = (
    "# Benchmarks\n\nWritten by `make bench` (`python -m benchmarks`), a section a benchmark module; one\n"
    "module's section alone is rewritten by `python -m benchmarks MODULE`. Ratios compare with the\n"
    "baseline of the same benchmark (or the figure the note names), measured in the same run.\n"
)
_MARK = re.compile(r"^<!-- (benchmarks\.\w+) -->$", re.MULTILINE)


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


def _section(name: str) -> str:
    module = importlib.import_module(name)
    title = (module.__doc__ or name).strip().splitlines()[0].rstrip(".")
    rows: list[str] = []
    for r in module.run():
        ratio = f"×{r['ratio']:.2f}" if "ratio" in r else ("baseline" if "baseline" in r["name"] else "")
        rows.append(f"| {r['name']} | {r['value']:,.2f} {r['unit']} | {ratio} | {r.get('note', '')} |")
        print(rows[-1], flush=True)
    notes = getattr(module, "NOTES", "").strip()
    return (
        f"<!-- {name} -->\n## {title}\n\n"
        f"`python -m {name}`, run on {dt.date.today().isoformat()}. Machine: {_machine()}.\n\n"
        "| benchmark | figure | ratio | note |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
        + (f"\n{notes}\n" if notes else "")
    )  # fmt: skip


def _sections(text: str) -> dict[str, str]:
    """The sections of an existing file, by module (a file without them has none)."""
    marks = list(_MARK.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1): text[m.start() : end].rstrip() + "\n" for m, end in zip(marks, ends, strict=True)}


def main(argv: list[str] | None = None) -> None:
    names = argv if argv is not None else sys.argv[1:]
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        raise SystemExit(f"unknown benchmark module(s): {', '.join(unknown)} (known: {', '.join(MODULES)})")
    sections = _sections(OUT.read_text(encoding="utf-8")) if names and OUT.exists() else {}
    for name in names or MODULES:
        print(f"running {name} ...", flush=True)
        sections[name] = _section(name)
    body = "\n".join(sections[n] for n in MODULES if n in sections)
    OUT.write_text(_HEAD + "\n" + body, encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
