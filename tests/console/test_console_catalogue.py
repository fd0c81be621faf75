"""The console's one catalogue: every code the floor (or the console itself) can answer with has
Chinese and English words naming the same parameters, and rendering one never fails."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from domain.catalogue import CATALOGUE, render
from domain.reasons import Reason
from tui.i18n import Texts

ROOT = Path(__file__).resolve().parents[2]
# Where an answer is made: the console's commands, server and protocol, maintenance, the console.
SPEAKERS = ("supervisor/console/commands.py", "supervisor/console/server.py",
            "supervisor/console/protocol.py", "supervisor/console/admission.py",
            "supervisor/runtime/maintenance.py", "tui/connection.py", "tui/app.py")  # fmt: skip
# The calls that make an answer, and where their code is among the arguments.
MAKERS = {"CommandResult": 1, "_Refused": 0, "_Drop": 0, "_bye": 0, "local_reply": 1, "ProtocolError": 0,
          "_error": 0, "_refuse": 0, "_drop": 1, "drop": 0}  # fmt: skip


def _written(node: ast.expr) -> set[str]:
    """The codes an argument can be: a text, or a choice of texts (`a if x else b`); a reason code
    (`str(reason)`) is checked with every reason below. Anything else could hide a code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _written(node.body) | _written(node.orelse)
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "str":
        return set()
    if ast.unparse(node) in ("code", "exc.code", "self.code"):
        return set()  # handed on from the caller, whose code is checked where it is written
    raise AssertionError(f"line {node.lineno}: a code not written out ({ast.unparse(node)})")


def _codes_in(source: str) -> set[str]:
    codes: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            where = MAKERS.get(getattr(node.func, "id", getattr(node.func, "attr", "")))
            if where is not None and len(node.args) > where:
                codes |= _written(node.args[where])
    return codes


def _sent_codes() -> set[str]:
    return {code for path in SPEAKERS for code in _codes_in((ROOT / path).read_text(encoding="utf-8"))}


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_check_finds_the_codes_it_is_meant_to() -> None:
    source = 'CommandResult(False, "a.b", {"x": 1})\nraise _Refused("c.d" if p else "e.f", x=1)\n'
    assert _codes_in(source) == {"a.b", "c.d", "e.f"}
    with pytest.raises(AssertionError, match="not written out"):
        _codes_in('CommandResult(True, f"g.{x}")')


def test_every_code_the_floor_can_answer_with_has_chinese_and_english_words() -> None:
    sent = _sent_codes()
    assert {"console.role_refused", "station.unknown", "maintenance.restarted", "console.lagged",
            "console.offline", "check.pre_submitted", "auth.timeout", "protocol.field"} <= sent  # fmt: skip
    missing = sorted(code for code in sent | {str(r) for r in Reason} if code not in CATALOGUE)
    assert not missing, missing


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_each_entry_says_it_in_both_languages_with_the_same_parameters(code: str) -> None:
    zh, en = CATALOGUE[code]
    assert zh
    assert en
    assert zh != en, "the Chinese is its own words, not the English again"
    assert _names(zh) == _names(en), code


def test_the_english_words_are_what_the_floor_said_before_it_spoke_in_codes() -> None:
    """The audit's `detail` column keeps the English: it must read as it always has."""
    params = {"role": "viewer", "command": "pause", "roles": "supervisor"}
    assert render("console.role_refused", params, "en") == "role 'viewer' may not pause (supervisor only)"
    assert render("station.unknown", {"station": "S9"}, "en") == "no station 'S9'"
    assert render("precheck.incomplete", {"detail": "valve"}, "en") == (
        "precheck.incomplete: pre-fill check incomplete: valve")  # fmt: skip
    assert render("alarm.shelved", {"alarm_id": "S1.x", "minutes": 60}, "en") == "S1.x shelved for 60 min"


def test_rendering_never_fails() -> None:
    assert render("no.such_code", {"a": 1}, "zh") == "no.such_code (a=1)"
    assert render("no.such_code") == "no.such_code"
    assert render("station.unknown", {}, "zh") == "没有工位 {station}"  # the gap shows
    assert render("console.bad_text", {"field": "x"}, "en") == "x: a text of 1..{limit} characters is needed"
    assert render("console.bad_text", {"field": {"a": [1]}, "limit": None}, "en").startswith("{'a': [1]}")


def test_the_console_shows_device_and_user_text_without_its_control_characters() -> None:
    t = Texts("zh")
    shown = t.said("station.unknown", {"station": "S\x1b[2J9\r\n"})
    assert "\x1b" not in shown
    assert "\r" not in shown
    assert (
        t.said("alarm.acknowledged", {"alarm_id": "[red]S1[/red]"}) == "已确认 [red]S1[/red]"
    )  # (shown as plain text)
    # Without the kind's text and parameters: the floor's own message, as plain text.
    assert t.alarm_text("device.scale_lost", None, None, "与秤\x07失去联系") == "与秤失去联系"
    # With them: the kind's words in the console's language, the device's text without escapes.
    detail = {"detail": "timeout\x1b[2J"}
    assert t.alarm_text("device.scale_lost", "raised", detail, "lost") == "与秤失去联系: timeout[2J"
    assert (
        Texts("en").alarm_text("device.scale_lost", "raised", detail, "与秤…")
        == "scale contact lost: timeout[2J"
    )
    # A kind or text a newer floor has and this console does not: the floor's message.
    assert Texts("en").alarm_text("device.new_kind", "raised", {}, "新报警") == "新报警"
    assert Texts("en").alarm_text("device.scale_lost", "new_text", {}, "与秤失去联系") == "与秤失去联系"
    assert Texts("en").said("console.offline") == "not connected: command not sent"
