"""Device faults injected for a while (docs/scenarios.md, "Faults"): which are valid, which are active.

A `FaultBoard` holds the faults of one station's devices with the time each ends. The simulators
ask it on every tick or request; the scenario runner injects into it from trio. `crash` is not a
device behaviour but the actor's: the board only exposes the flag (`crashing(device)`), and the
device actor's test double raises while it is set. Thread-safe: simulators run in their own threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from attrs import frozen

__all__ = ["APPLICABLE", "DEVICES", "FAULT_KINDS", "Fault", "FaultBoard", "check_fault"]

DEVICES = ("scale", "valve", "scanner")
FAULT_KINDS = ("disconnect", "freeze", "garbage", "stuck_open", "crash")

# Which fault kinds apply to which device (docs/scenarios.md, the fault table).
APPLICABLE = {
    "scale": frozenset({"disconnect", "freeze", "garbage", "crash"}),
    "valve": frozenset({"disconnect", "freeze", "garbage", "stuck_open", "crash"}),
    "scanner": frozenset({"disconnect", "freeze", "garbage", "crash"}),
}


def check_fault(device: str, kind: str, seconds: float) -> None:
    """Raise ValueError naming the problem if `kind` on `device` for `seconds` is not a valid fault."""
    if device not in APPLICABLE:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    if kind not in APPLICABLE[device]:
        raise ValueError(f"a {device} cannot be {kind}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, not {seconds!r}")


@frozen
class Fault:
    """`kind` on `device` lasting `seconds` (validated on construction)."""

    device: str
    kind: str
    seconds: float

    def __attrs_post_init__(self) -> None:
        check_fault(self.device, self.kind, self.seconds)


class FaultBoard:
    """The active faults of one station, each until its end time on `clock` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], float] = {}

    def inject(self, fault: Fault) -> None:
        """Start `fault` now; injecting the same fault again extends it."""
        end = self._clock() + fault.seconds
        with self._lock:
            key = (fault.device, fault.kind)
            self._until[key] = max(end, self._until.get(key, end))

    def clear(self, device: str | None = None) -> None:
        """End every fault (of `device`, or all)."""
        with self._lock:
            for key in [k for k in self._until if device is None or k[0] == device]:
                del self._until[key]

    def active(self, device: str, kind: str) -> bool:
        now = self._clock()
        with self._lock:
            end = self._until.get((device, kind))
            if end is None:
                return False
            if now >= end:
                del self._until[(device, kind)]
                return False
            return True

    def crashing(self, device: str) -> bool:
        """The flag the device actor checks at start: raise while it is set."""
        return self.active(device, "crash")

    def kinds(self, device: str) -> frozenset[str]:
        """The faults of `device` active now."""
        return frozenset(kind for dev, kind in list(self._until) if dev == device and self.active(dev, kind))
