"""The operator documentation stays true to the code.

- Every reason code, fill flag and alarm kind the code defines is in both the Chinese and the
  English alarm guide (docs/operations/{zh,en}/alarms.md).
- Every alarm the code raises names its kind from `AlarmKind` (no kind written as a bare string
  that the guides would not know about).
- Every `fillfloor <command> [<subcommand> …]` written in a code span or block of the docs (and the
  README) is a command of the real CLI, down to its subcommands.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.alarm_kinds import AlarmKind
from domain.reasons import FillFlag, Reason
from fillfloor.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
GUIDES = {lang: ROOT / "docs" / "operations" / lang / "alarms.md" for lang in ("zh", "en")}
PRODUCT = ("actors", "domain", "platform_client", "platform_server", "simulator", "supervisor", "tui")
DOCS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
CODES = sorted({*map(str, Reason), *map(str, FillFlag), *map(str, AlarmKind)})


@pytest.mark.parametrize("lang", sorted(GUIDES))
def test_every_reason_flag_and_alarm_kind_is_in_the_alarm_guide(lang: str) -> None:
    text = GUIDES[lang].read_text(encoding="utf-8")
    missing = [code for code in CODES if f"`{code}`" not in text]
    assert not missing, f"{GUIDES[lang].relative_to(ROOT)} lacks {missing}"


def _kind_args(tree: ast.AST) -> Iterator[tuple[int, ast.expr]]:
    """The kind of every alarm raised: `_alarm(event, id, KIND, …)`, `_raise_fault(cause, KIND, …)`,
    and `kind=` of a call that also passes `severity=` (an alarm event)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "_alarm" and len(node.args) >= 3:
            yield node.lineno, node.args[2]
        elif name == "_raise_fault" and len(node.args) >= 2:
            yield node.lineno, node.args[1]
        keywords = {k.arg: k.value for k in node.keywords}
        if "kind" in keywords and "severity" in keywords:
            yield node.lineno, keywords["kind"]


def _is_alarm_kind(expr: ast.expr, local: dict[str, ast.expr]) -> bool:
    if isinstance(expr, ast.Attribute):
        return isinstance(expr.value, ast.Name) and expr.value.id == "AlarmKind"
    if isinstance(expr, ast.IfExp):
        return _is_alarm_kind(expr.body, local) and _is_alarm_kind(expr.orelse, local)
    if isinstance(expr, ast.Name) and expr.id in local:
        return _is_alarm_kind(local.pop(expr.id), local)
    return False


def _alarm_kinds_not_from_the_enum(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    bad = []
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] or [
        tree
    ]:
        # A kind held in a local first (`kind = AlarmKind.X if … else AlarmKind.Y`) is followed.
        local = {t.id: n.value for n in ast.walk(func) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}  # fmt: skip
        for line, expr in _kind_args(func):
            if _passed_through(expr, func):
                continue  # an alarm raised before, recorded again (cleared, acknowledged)
            if not _is_alarm_kind(expr, dict(local)):
                bad.append(f"{where}:{line}: {ast.unparse(expr)}")
    return sorted(set(bad))


def _passed_through(expr: ast.expr, func: ast.AST) -> bool:
    """A parameter `kind`, an alarm's `.kind`, or stored details (`*details`): checked where raised."""
    if (isinstance(expr, ast.Attribute) and expr.attr == "kind") or isinstance(expr, ast.Starred):
        return True
    is_def = isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
    params = [a.arg for a in func.args.args] if is_def else []
    return isinstance(expr, ast.Name) and expr.id == "kind" and "kind" in params


def test_every_alarm_the_code_raises_names_an_alarm_kind() -> None:
    bad = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                bad += _alarm_kinds_not_from_the_enum(
                    path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
                )
    assert not bad, (
        "alarm kinds not from domain.alarm_kinds.AlarmKind (add them there and to the guides):\n"
        + "\n".join(bad)
    )


def test_the_alarm_kind_check_catches_a_kind_written_as_a_string() -> None:
    source = (
        "def f(self):\n"
        "    self._alarm('raised', 'S1.x', 'fill.new_kind', 'high', '')\n"
        "    self._raise_fault('x', AlarmKind.FILL_OVERFILL, 'high', '')\n"
        "    bus.publish(AlarmRaised('x', kind=f'device.{d}_lost', severity='high', message=''))\n"
    )
    assert _alarm_kinds_not_from_the_enum(source, "x.py") == [
        "x.py:2: 'fill.new_kind'", "x.py:4: f'device.{d}_lost'"
    ]  # fmt: skip


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# `fillfloor` as a command word (not fillfloor.toml, /opt/fillfloor, …) and the lower-case words after
# it; upper-case words (FILE, NAME) and options end the command.
_COMMAND = re.compile(r"(?<![\w/.@+-])fillfloor((?: +[a-z][a-z0-9-]*)+)")
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)


def unknown_commands(markdown: str, parser: argparse.ArgumentParser) -> list[str]:
    """The `fillfloor …` commands in the code of `markdown` that the CLI does not have."""
    bad = []
    for code in _CODE.findall(markdown):
        for match in _COMMAND.finditer(code):
            words, current, said = match.group(1).split(), parser, "fillfloor"
            for word in words:
                choices = _subcommands(current)
                if not choices:
                    break  # the rest are the command's arguments
                said += f" {word}"
                if word not in choices:
                    bad.append(said)
                    break
                current = choices[word]
    return bad


def test_every_fillfloor_command_in_the_docs_exists() -> None:
    parser = build_parser()
    bad = {
        f"{path.relative_to(ROOT)}: {command}"
        for path in DOCS
        for command in unknown_commands(path.read_text(encoding="utf-8"), parser)
    }
    assert not bad, "commands the CLI does not have:\n" + "\n".join(sorted(bad))


def test_the_command_check_catches_a_command_that_does_not_exist() -> None:
    parser = build_parser()
    text = "Run `fillfloor users add 张三 --role operator`, then\n```\n$ fillfloor db restore --from F\n```\n"
    good = (
        "`fillfloor platform unit add HY0012`, `fillfloor console wss://h:8765`, fillfloor.toml, `fillfloor`"
    )
    assert unknown_commands(text, parser) == ["fillfloor users", "fillfloor db restore"]
    assert unknown_commands(good, parser) == []
