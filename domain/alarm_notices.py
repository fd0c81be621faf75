"""An alarm as its producer raises or clears it: kind, id, station and parameters, no text yet.

Every producer (a station's core, a station's supervision, ...) hands one of these to the floor's
alarm desk (`supervisor.station.alarm_desk`), which renders the message in the floor's language
(`domain.alarm_kinds.ALARM_TEXTS`), stores the alarm record, publishes the event and keeps the
board. So an alarm is raised the same way wherever it comes from, with or without a console.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from attrs import evolve, field, frozen

from domain.alarm_kinds import ALARM_TEXTS, GUARD_RULE_TEXTS, SEVERITY, AlarmKind, Severity, error_words

__all__ = ["AlarmChange", "AlarmNotice", "alarm_message", "cleared", "raised"]


class AlarmChange(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


def _frozen_params(params: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(params))


@frozen
class AlarmNotice:
    change: AlarmChange
    alarm_id: str  # one alarm: its raise and its clear share it (e.g. "S1.scale_lost")
    kind: AlarmKind
    station: str | None
    params: Mapping[str, str] = field(factory=dict, converter=_frozen_params, hash=False)
    text: str | None = None  # which of the kind's texts; None: the change's own ("raised"/"cleared")

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.kind]

    @property
    def text_name(self) -> str:
        """Which of the kind's texts says this change (`ALARM_TEXTS`)."""
        return self.text or str(self.change)

    def message(self, lang: str) -> str:
        """The alarm's message in `lang` (zh, en): the kind's text with the parameters filled in."""
        said = alarm_message(self.kind, self.text_name, self.params, lang)
        assert said is not None  # (a notice is made of a known kind and text)
        return said

    def cleared(self) -> AlarmNotice:
        """This alarm's clear, saying what its raise said (the platform refuses an alarm record
        without its kind, and the clear of a fault names the fault)."""
        return evolve(self, change=AlarmChange.CLEARED, text=self.text or str(AlarmChange.RAISED))


def alarm_message(kind: str, text_name: str, params: Mapping[str, str], lang: str) -> str | None:
    """An alarm's words in `lang` from its kind, which of its texts, and its parameters (the fill
    guard's rule is itself said in `lang`); None for a kind or text this build does not know (a
    newer floor's: a console then shows the floor's own message)."""
    try:
        template = ALARM_TEXTS.get(AlarmKind(kind), {}).get(text_name)
    except ValueError:
        return None
    if template is None:
        return None
    given = dict(params)
    rule = GUARD_RULE_TEXTS.get(given.get("rule", ""))
    if rule is not None:
        given["rule"] = rule.render(lang, {})
    if "error" in given:  # an exception's class: what it means, in `lang`
        given["error"] = error_words(given["error"]).render(lang, {})
    return template.render(lang, given)


def raised(alarm_id: str, kind: AlarmKind, station: str | None, text: str | None = None,
           **params: str) -> AlarmNotice:  # fmt: skip
    return AlarmNotice(AlarmChange.RAISED, alarm_id, kind, station, params, text)


def cleared(alarm_id: str, kind: AlarmKind, station: str | None, text: str | None = None,
            **params: str) -> AlarmNotice:  # fmt: skip
    return AlarmNotice(AlarmChange.CLEARED, alarm_id, kind, station, params, text)
