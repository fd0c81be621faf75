"""The role table (domain/roles.py): what each role may do, decided in one place for the console's
commands, maintenance control and the user command."""

from __future__ import annotations

import pytest

from domain.catalogue import render
from domain.roles import COMMAND_ROLES, OWN_STATION_ONLY, ROLES, Command, Role, may, refusal, rights

# The rights of docs/console-protocol.md (Users and tokens), spelled out command by command.
EXPECTED = {
    "viewer": set(),
    "operator": {"stop", "start"},
    "checker": {"check"},
    "maintenance": {"restart", "out_of_service", "return_to_service"},
    "supervisor": {c.value for c in Command},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_give_exactly_its_commands(role: str) -> None:
    assert {c.value for c in Command if may(role, c)} == EXPECTED[role]


def test_every_command_has_its_roles_and_the_roles_are_the_users_choices() -> None:
    assert set(COMMAND_ROLES) == set(Command)
    assert ROLES == ("viewer", "operator", "checker", "maintenance", "supervisor")
    assert {Role.OPERATOR} == OWN_STATION_ONLY


def test_unknown_roles_and_commands_may_nothing() -> None:
    assert not may("root", "restart")
    assert not may("supervisor", "format_disk")
    assert not may("", "pause")


def test_a_refusal_names_the_roles_that_may() -> None:
    said = render("console.role_refused", refusal("viewer", "out_of_service"), "en")
    assert said == "role 'viewer' may not out_of_service (maintenance or supervisor only)"
    said = render("console.role_refused", refusal("operator", "check"), "zh")
    assert said == "角色 'operator' 无权执行 check（仅限 checker or supervisor）"


def test_a_roles_rights_are_read_from_the_table_for_the_user_commands_help() -> None:
    from fillfloor.commands.users_cmd import _ROLES_HELP

    assert rights("viewer") == ()
    assert rights("checker") == (Command.CHECK,)
    assert "operator (stop, start; their own station only)" in _ROLES_HELP
    assert "maintenance (restart, out_of_service, return_to_service)" in _ROLES_HELP
