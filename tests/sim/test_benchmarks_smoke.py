"""The poll-capacity and RTU-utilisation benchmarks, run tiny so they cannot rot.

Structure only: each runs a few actors against its simulators in a second process for about a
second and returns its figures; no wall-clock figure is asserted (CI never judges speed).
"""

from __future__ import annotations

import math

import pytest
import trio

from benchmarks import console_flood, platform_strangers, poll_capacity, rtu_utilisation, sync_isolation
from benchmarks.__main__ import _sections


@pytest.mark.parametrize("sim", ["registers", "stations"])
def test_poll_capacity_runs_a_tiny_step(sim: str) -> None:
    step = poll_capacity.measure(3, seconds=1.0, warmup_s=0.5, sim=sim, gc_freeze=sim == "registers")
    assert step.stations == 3
    assert step.polls_per_s > 0  # the actors polled and their samples were counted
    assert step.errors >= 0
    assert step.cpu_pct >= 0
    assert step.sim_cpu_pct >= 0
    assert isinstance(step.passed, bool)
    assert "3 stations" in poll_capacity.describe(step)
    rows = poll_capacity._rows(sim, False, [step])
    assert [set(r) >= {"name", "value", "unit"} for r in rows] == [True, True]


def test_poll_capacity_refuses_an_unknown_simulator() -> None:
    with pytest.raises(ValueError, match="sim must be"):
        poll_capacity.measure(1, seconds=0.1, sim="nope")


@pytest.mark.parametrize("paced", [True, False])
def test_rtu_utilisation_runs_a_tiny_line(paced: bool) -> None:
    result = rtu_utilisation.measure(2, 115200, paced=paced, seconds=1.0)
    assert (result.devices, result.baudrate, result.paced) == (2, 115200, paced)
    assert result.reads_s > 0
    assert result.errors >= 0
    assert result.device_ms >= 0
    assert result.host_ms >= 0
    assert "115200 baud" in rtu_utilisation.describe(result)


def test_rtu_theoretical_rate_follows_the_spec() -> None:
    # 16 registers: 8 + 37 characters of 11 bits, and two 3.5-character gaps (1.75 ms above 19,200).
    assert math.isclose(rtu_utilisation.theoretical_reads_s(19200), 1 / (45 * 11 / 19200 + 2 * 38.5 / 19200))
    assert math.isclose(rtu_utilisation.theoretical_reads_s(115200), 1 / (45 * 11 / 115200 + 2 * 1.75e-3))
    assert math.isclose(rtu_utilisation.theoretical_reads_s(9600, 1), 1 / (15 * 11 / 9600 + 2 * 38.5 / 9600))


def test_benchmarks_md_sections_are_found_by_module() -> None:
    text = "# B\n\n<!-- benchmarks.a -->\n## A\n\n| x |\n\n<!-- benchmarks.b -->\n## B\n| y |\n"
    sections = _sections(text)
    assert list(sections) == ["benchmarks.a", "benchmarks.b"]
    assert sections["benchmarks.a"].startswith("<!-- benchmarks.a -->\n## A")
    assert "| y |" not in sections["benchmarks.a"]


def test_platform_drain_runs_tiny_and_checks_exactly_once() -> None:
    from benchmarks import platform_drain

    rows = platform_drain.run(records=300, choose=100)
    names = [r["name"] for r in rows]
    assert sum("batch" in n and n.startswith("choose") for n in names) == len(platform_drain.BATCHES)
    assert any(n.startswith("drain 300 records to a sqlite platform") for n in names)
    assert [r for r in rows if "the default" in r.get("note", "")], "the default batch size is marked"


def test_the_soak_benchmark_compares_early_and_late_windows() -> None:
    from benchmarks import soak

    rows = soak.run(stations=1, duration_s=12)
    names = [r["name"] for r in rows]
    assert "RSS (median), second quarter (baseline)" in names
    assert "loop lateness p99 (median of windows), last quarter" in names
    assert all(set(r) >= {"name", "value", "unit"} for r in rows)
    assert "fill chain intact" in rows[-1]["note"]


@pytest.mark.parametrize("attack", ["idle", "half-open", "slow-frames"])
def test_a_small_console_flood_costs_the_floor_no_device_alarm_and_no_fill(attack: str) -> None:
    """The issue-19 floods at a small count (the full counts: `python -m benchmarks.console_flood`):
    whatever the decision latency does on a shared machine, the devices stay connected and no fill
    is aborted, and the server refuses or drops what is past its caps."""
    count = {"idle": 40, "half-open": 120, "slow-frames": 20}[attack]
    outcome = trio.run(console_flood.measure, 2, 3.0, attack, count)
    assert outcome.alarms == ()
    assert outcome.aborted == 0
    assert len(outcome.latencies) > 50  # the scales were polled and judged all along
    assert "opened" in outcome.attack_note


def test_the_sync_isolation_benchmark_drains_through_the_floors_loop_and_through_its_process() -> None:
    # Every record up both ways, waited for as long as a busy machine takes (not a time limit).
    rows = sync_isolation.run(stations=1, seconds=2.0, records=300, drain_wait_s=120)
    assert [r["name"] for r in rows] == [f"decision p99, 1 stations, sync {m}" for m in sync_isolation.MODES]
    # (the floor's own records of the window go up too: none is left either way)
    assert all(str(r["note"]).endswith(", 0 left") for r in rows[1:]), rows


def test_the_platform_strangers_benchmark_refuses_every_stranger() -> None:
    rows = platform_strangers.run(posts=2, mib=1)
    assert [r["name"] for r in rows] == [
        f"platform peak RSS, 2 × 1 MiB posts, {kind}" for kind in platform_strangers.KINDS
    ]
    for row in rows:  # each answered with a refusal, none stored
        assert "answers: 2× 401" in str(row["note"]) or "503" in str(row["note"]), row
