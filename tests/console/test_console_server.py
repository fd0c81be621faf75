"""The console server over real WebSockets: tokens, roles, snapshot, events, bad input, slow clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
from sqlalchemy import select
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket, open_websocket_url

from domain.checks import answered_in_full, standard_items
from domain.events import CheckRecorded
from domain.messages import Device, DeviceLink
from simulator.in_process_floor import running_floor
from supervisor.console.in_process import InProcessAccess
from supervisor.console.protocol import decode_server
from supervisor.console.server import ConsoleServer
from supervisor.storage import schema as t
from supervisor.storage.database import Database
from tests.support.console_client import command, event, hello, receive, user
from tui.i18n import Texts
from tui.model import ConsoleModel


@pytest.fixture
async def console(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_floor(tmp_path) as (floor, db, physics), trio.open_nursery() as nursery:
        server = ConsoleServer(InProcessAccess(floor, db), port=0, lag_limit=50)
        port = await nursery.start(server.run)
        yield server, db, f"ws://127.0.0.1:{port}", physics
        nursery.cancel_scope.cancel()


async def test_a_console_gets_a_snapshot_then_events_and_a_supervisor_can_pause(console) -> None:  # type: ignore[no-untyped-def]
    _, db, url, _ = console
    token = await user(db, "王班长", "supervisor")
    async with open_websocket_url(url) as ws:
        welcome = await hello(ws, token)
        assert (welcome["user"], welcome["role"]) == ("王班长", "supervisor")
        snap = (await receive(ws, "snapshot"))["snapshot"]
        assert [s["id"] for s in snap["stations"]] == ["S1"]
        assert {"S1.coordinator", "storage"} <= {a["actor"] for a in snap["actors"]}
        passed: list[dict[str, Any]] = []
        reply = await command(ws, 1, "pause", passed, station="S1")
        assert reply["ok"] is True
        await event(ws, passed, "station.state", station="S1", state="paused")


async def test_a_command_outside_the_role_is_refused_and_audited(console) -> None:  # type: ignore[no-untyped-def]
    _, db, url, _ = console
    token = await user(db, "viewer1", "viewer")
    async with open_websocket_url(url) as ws:
        await hello(ws, token)
        reply = await command(ws, "a", "pause", station="S1")
        assert reply["ok"] is False
        assert "may not pause" in reply["message"]
        # A code and its parameters, for a console to say it in its language (domain/catalogue.py).
        refused = {"role": "viewer", "command": "pause", "roles": "supervisor"}
        assert (reply["code"], reply["params"]) == ("console.role_refused", refused)
        reply = await command(ws, "b", "restart", target="S1.scale")
        assert reply["ok"] is False
        refused = {"role": "viewer", "command": "restart", "roles": "maintenance or supervisor"}
        assert (reply["code"], reply["params"]) == ("console.role_refused", refused)
    with trio.fail_after(10):
        while True:
            with db.reading() as conn:
                rows = conn.execute(select(t.console_audit.c.who, t.console_audit.c.command,
                                           t.console_audit.c.result)).all()  # fmt: skip
            if len(rows) == 2:
                break
            await trio.sleep(0.05)
    assert sorted(rows) == [("viewer1", "pause", "refused"), ("viewer1", "restart", "refused")]


async def test_an_operator_may_stop_only_their_own_station(console) -> None:  # type: ignore[no-untyped-def]
    _, db, url, _ = console
    token = await user(db, "op-s2", "operator", station="S2")
    async with open_websocket_url(url) as ws:
        await hello(ws, token)
        reply = await command(ws, 1, "stop", station="S1")
        assert reply["ok"] is False
        assert "own station" in reply["message"]


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_a_bad_token_is_refused_and_the_connection_closed(console, token: str) -> None:  # type: ignore[no-untyped-def]
    _, _, url, _ = console
    async with open_websocket_url(url) as ws:
        await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
        error = await receive(ws, "error")
        assert error["code"] in ("auth.invalid_token", "protocol.field")
        with pytest.raises(ConnectionClosed), trio.fail_after(10):
            await ws.get_message()
        # trio-websocket 0.12's client leaves its TCP stream open when the server closed first
        # (its reader stops on the server's FIN without closing): close it, as the TUI does.
        await ws._stream.aclose()


async def test_malformed_messages_get_an_error_and_the_session_goes_on(console) -> None:  # type: ignore[no-untyped-def]
    _, db, url, _ = console
    token = await user(db, "chk", "checker")
    async with open_websocket_url(url) as ws:
        await hello(ws, token)
        bad_id = '{"type": "command", "id": true, "command": "ack"}'
        for bad, code in [("{", "protocol.not_json"), ("[1]", "protocol.not_object"),
                          ('{"type": "nope"}', "protocol.type"), (bad_id, "protocol.field")]:  # fmt: skip
            await ws.send_message(bad)
            assert (await receive(ws, "error"))["code"] == code
        items = answered_in_full("pre", True, {"<b>appearance</b>": "ok"})  # a name is data, not markup
        reply = await command(ws, 9, "check", cylinder="HY00120000123", phase="pre", result="pass",
                               items=items)  # fmt: skip
        assert reply["ok"] is True
        reply = await command(ws, 10, "check", cylinder="HY00120000123", phase="during", result="pass")
        assert reply["ok"] is False


async def test_a_console_that_stops_reading_is_dropped_and_the_floor_goes_on(console) -> None:  # type: ignore[no-untyped-def]
    server, db, url, _ = console
    token = await user(db, "slow", "viewer")
    async with open_websocket_url(url, message_queue_size=1) as ws:
        await hello(ws, token)
        # Stop reading; flood the bus with records-kind events (lossless for consoles).
        for i in range(500):
            server.access.floor.bus.publish(CheckRecorded("S1", f"C{i}", phase="pre", result="pass"))
            await trio.lowlevel.checkpoint()
        with trio.fail_after(20):
            while server.sessions:  # noqa: ASYNC110 - polling the server's session count
                await trio.sleep(0.05)
    assert server.access.floor.stations["S1"].coordinator.handled > 0  # the coordinator kept going


async def test_a_console_whose_network_drops_is_let_go_quietly(console, caplog) -> None:  # type: ignore[no-untyped-def]
    server, db, url, _physics = console
    token = await user(db, "王班长", "supervisor")
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):  # no close handshake: the TCP connection just ends (a cable, a closed laptop)
        async with trio.open_nursery() as nursery:
            ws = await connect_websocket(nursery, "127.0.0.1", port, "/", use_ssl=False)
            await hello(ws, token)
            await receive(ws, "snapshot")
            await ws._stream.aclose()
            nursery.cancel_scope.cancel()
    with trio.fail_after(5):
        while server.sessions:  # noqa: ASYNC110 - the server's own count
            await trio.sleep(0.02)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    async with open_websocket_url(url) as ws:  # and the server serves the next one as before
        await hello(ws, token)
        assert (await receive(ws, "snapshot"))["snapshot"]["stations"][0]["id"] == "S1"


async def audited(db: Database, count: int) -> list[tuple[str, str, str, str]]:
    """The console audit once it holds `count` rows: (command, target, result, detail)."""
    with trio.fail_after(10):
        while True:
            with db.reading() as conn:
                rows = conn.execute(select(t.console_audit.c.command, t.console_audit.c.target,
                                           t.console_audit.c.result, t.console_audit.c.detail)
                                    .order_by(t.console_audit.c.id)).all()  # fmt: skip
            if len(rows) >= count:
                return [tuple(r) for r in rows]
            await trio.sleep(0.05)


async def checks_recorded(db: Database, count: int) -> list[tuple[str, str, str]]:
    """The check records once there are `count`: (cylinder, phase, result)."""
    with trio.fail_after(10):
        while True:
            with db.reading() as conn:
                rows = conn.execute(select(t.check_record.c.cylinder_code, t.check_record.c.phase,
                                           t.check_record.c.result)).all()  # fmt: skip
            if len(rows) >= count:
                return [tuple(r) for r in rows]
            await trio.sleep(0.05)


@contextlib.asynccontextmanager
async def checker_session(console) -> AsyncIterator[WebSocketConnection]:  # type: ignore[no-untyped-def]
    """A checker's console session on the floor."""
    _, db, url, _ = console
    token = await user(db, "检查员甲", "checker")
    async with open_websocket_url(url) as ws:
        await hello(ws, token)
        yield ws


async def test_a_pass_with_items_left_open_is_refused_as_incomplete_naming_them(console) -> None:  # type: ignore[no-untyped-def]
    db = console[1]
    async with checker_session(console) as ws:
        items = answered_in_full("pre", True, {"valve": "not_checked", "body": "not_checked"})
        reply = await command(ws, 1, "check", cylinder="HY00120000123", phase="pre", result="pass",
                               items=items)  # fmt: skip
        assert reply["ok"] is False
        assert reply["message"].startswith("precheck.incomplete: ")
        assert "body, valve" in reply["message"]
        # A pass that answers nothing is as incomplete: every item is named.
        reply = await command(ws, 2, "check", cylinder="HY00120000123", phase="pre", result="pass")
        assert reply["message"].startswith("precheck.incomplete: ")
        assert all(key in reply["message"] for key in standard_items("pre"))
        # A fail must say what failed; an answer the floor cannot read is refused, not guessed.
        reply = await command(ws, 3, "check", cylinder="HY00120000123", phase="post", result="fail",
                               items=answered_in_full("post", True, {}))  # fmt: skip
        assert (reply["ok"], "names at least one failed item" in reply["message"]) == (False, True)
        reply = await command(ws, 4, "check", cylinder="HY00120000123", phase="post", result="fail",
                               items={"leak": "maybe"})  # fmt: skip
        assert (reply["ok"], "unreadable" in reply["message"]) == (False, True)
        # The same cylinder with every item checked and passed is taken.
        reply = await command(ws, 5, "check", cylinder="HY00120000123", phase="pre", result="pass",
                               items=answered_in_full("pre", True, {}))  # fmt: skip
        assert reply["ok"] is True
    rows = await audited(db, 5)
    assert [(r[0], r[1], r[2]) for r in rows] == [("check", "HY00120000123", "refused")] * 4 + [
        ("check", "HY00120000123", "ok")]  # fmt: skip
    assert rows[0][3].startswith("precheck.incomplete: ")
    assert await checks_recorded(db, 1) == [("HY00120000123", "pre", "pass")]  # the refused ones: none


async def test_a_check_entered_as_a_label_url_is_recorded_under_its_code(console) -> None:  # type: ignore[no-untyped-def]
    db = console[1]
    async with checker_session(console) as ws:
        label = "https://qp.example.cn/c?code=HY00120000123"
        reply = await command(ws, 1, "check", cylinder=label, phase="pre", result="pass",
                               items=answered_in_full("pre", True, {}))  # fmt: skip
        assert reply["ok"] is True
        assert "HY00120000123" in reply["message"]
    # Stored under the code the scanner reads from the same label, so the scan finds the check.
    assert await checks_recorded(db, 1) == [("HY00120000123", "pre", "pass")]


@pytest.mark.parametrize(
    ("cylinder", "reason"),
    [
        ("ZZ00990000001", "label.foreign_unit"),  # another unit's cylinder
        ("https://qp.example.cn/c?code=ZZ00990000001", "label.foreign_unit"),
        ("HY0012<b>", "label.unreadable"),
        ("HY0012", "label.unreadable"),  # the unit's code alone is no cylinder
        pytest.param("HY0012" + "0" * 300, "label.unreadable", id="too-long"),  # past the rule's length
        ("HY00120000999", "cylinder.unknown"),  # this unit's form, but no archive
    ],
)
async def test_a_check_for_a_code_the_floor_would_not_fill_is_refused_with_its_reason(  # type: ignore[no-untyped-def]
    console, cylinder: str, reason: str
) -> None:
    db = console[1]
    async with checker_session(console) as ws:
        reply = await command(ws, 1, "check", cylinder=cylinder, phase="pre", result="pass",
                               items=answered_in_full("pre", True, {}))  # fmt: skip
        assert reply["ok"] is False
        assert reply["message"].startswith(f"{reason}: ")
        assert reply["code"] == reason
    [(name, _target, result, detail)] = await audited(db, 1)
    assert (name, result, detail) == ("check", "refused", reply["message"])


async def test_an_alarm_raised_with_no_console_is_stored_and_on_the_board_a_later_console_gets(
    tmp_path: Path,
) -> None:
    async with running_floor(tmp_path) as (floor, db, _), trio.open_nursery() as nursery:
        floor.stations["S1"].tell(DeviceLink(Device.SCANNER, False, trio.current_time(), "cable cut"))
        with trio.fail_after(10):
            while True:  # stored through the record sink, with no console anywhere
                with db.reading() as conn:
                    rows = conn.execute(select(t.alarm.c.alarm_id, t.alarm.c.event, t.alarm.c.message)).all()
                if rows:
                    break
                await trio.sleep(0.05)
        assert rows == [("S1.scanner_lost", "raised", "扫码枪断开：cable cut")]
        server = ConsoleServer(InProcessAccess(floor, db), port=0)
        port = await nursery.start(server.run)
        token = await user(db, "王班长", "supervisor")
        async with open_websocket_url(f"ws://127.0.0.1:{port}") as ws:
            await hello(ws, token)
            snap = (await receive(ws, "snapshot"))["snapshot"]
            assert [(a["alarm_id"], a["state"]) for a in snap["alarms"]] == [
                ("S1.scanner_lost", "unacknowledged")
            ]
            assert snap["unacknowledged"] == 1
            # Its kind's text and parameters, for a console in another language than the floor's.
            (listed,) = snap["alarms"]
            assert (listed["text"], listed["params"]) == ("raised", {"detail": "cable cut"})
            assert Texts("en").alarm_text(listed["kind"], listed["text"], listed["params"],
                                          listed["message"]) == "scanner lost: cable cut"  # fmt: skip
            reply = await command(ws, 1, "ack", alarm_id="S1.scanner_lost")
            assert reply["ok"] is True, reply
        assert floor.alarms.board.alarms["S1.scanner_lost"].state == "acknowledged"  # the floor's board
        nursery.cancel_scope.cancel()


async def test_a_live_alarm_reaches_an_english_console_in_english_from_a_chinese_floor(
    tmp_path: Path,
) -> None:
    async with running_floor(tmp_path) as (floor, db, _), trio.open_nursery() as nursery:
        server = ConsoleServer(InProcessAccess(floor, db), port=0)
        port = await nursery.start(server.run)
        token = await user(db, "王班长", "supervisor")
        async with open_websocket_url(f"ws://127.0.0.1:{port}") as ws:
            await hello(ws, token)
            await receive(ws, "snapshot")
            floor.stations["S1"].tell(DeviceLink(Device.SCANNER, False, trio.current_time(), "cable cut"))
            with trio.fail_after(10):
                while (message := await receive(ws, "event"))["event"]["type"] != "alarm.raised":
                    pass
        nursery.cancel_scope.cancel()
    assert message["event"]["message"] == "扫码枪断开：cable cut"  # (the floor speaks Chinese)
    assert message["words"] == {"text": "raised", "params": {"detail": "cable cut"}}
    model = ConsoleModel()
    model.receive(decode_server(json.dumps(message)))
    (alarm,) = model.alarms.values()
    assert Texts("en").alarm_text(alarm.kind, alarm.text_name, alarm.params, alarm.message) == (
        "scanner lost: cable cut"
    )
