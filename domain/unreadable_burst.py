"""A scanner sending junk: unreadable frames taken as one burst (issue 19: a scanner spewing
garbage wrote 31,910 refusal records in 28 s, each one uploaded to the platform).

The first unreadable frame of a burst is refused and recorded as any unreadable label is (an
operator scanning a torn label is told at once). The frames after it, each within `gap_s` of the
one before, are only counted; past `alarm_after` of them the station raises one alarm. When the
line has been quiet for `gap_s`, the burst is over: one record says how many frames it had, and
the alarm clears.
"""

from __future__ import annotations

import enum

from attrs import define

__all__ = ["BurstEnd", "Frame", "UnreadableBurst"]


class Frame(enum.Enum):
    FIRST = "first"  # refuse and record it, as any unreadable label
    COUNTED = "counted"  # one more of a burst: counted only
    ALARM = "alarm"  # the one that makes the burst an alarm (counted, and raise it)


@define(frozen=True)
class BurstEnd:
    frames: int  # in all, the first included
    seconds: float  # from the first to the last
    alarmed: bool  # whether its alarm was raised (and is to be cleared)


@define
class UnreadableBurst:
    gap_s: float = 0.5  # faster than a person rescans a label; a faulty line sends far faster
    alarm_after: int = 10
    first_at: float | None = None
    last_at: float = 0.0
    frames: int = 0

    def frame(self, now: float) -> Frame:
        if self.first_at is None or now - self.last_at > self.gap_s:
            self.first_at, self.last_at, self.frames = now, now, 1
            return Frame.FIRST
        self.last_at = now
        self.frames += 1
        return Frame.ALARM if self.frames == self.alarm_after + 1 else Frame.COUNTED

    def ended(self, now: float) -> BurstEnd | None:
        """The burst that ended by `now` (quiet for `gap_s`), once; None while it goes on, or when
        it was one frame (that one is recorded already)."""
        if self.first_at is None or now - self.last_at <= self.gap_s:
            return None
        end = BurstEnd(self.frames, self.last_at - self.first_at, self.frames > self.alarm_after)
        self.first_at, self.frames = None, 0
        return end if end.frames > 1 else None
