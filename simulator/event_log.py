"""Reading the event file of `fillfloor sim` (docs/scenarios.md, "Events"): one JSON object a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["Event", "of", "read_events"]

Event = dict[str, Any]


def read_events(path: Path) -> list[Event]:
    """Every event of the file, in order (none when the run never wrote it)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def of(events: list[Event], type_: str, station: str | None = None) -> list[Event]:
    """The events of one type (at one station)."""
    return [e for e in events if e["type"] == type_ and (station is None or e.get("station") == station)]
