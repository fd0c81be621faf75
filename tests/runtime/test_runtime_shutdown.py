"""SIGTERM/SIGINT on a real process: valves close first, children stop in reverse order, records are
finished; a second signal exits at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, trio
    from supervisor.runtime.bus import EventBus
    from supervisor.runtime.spec import ChildSpec
    from supervisor.runtime.supervisor import Supervisor
    from supervisor.runtime.shutdown import run_until_signalled

    STUBBORN = sys.argv[1] == "stubborn"

    def say(line):
        print(line, flush=True)

    def child(name):
        async def run(task_status):
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    if name == "storage":
                        await trio.sleep(0.2)  # finishing the last records
                        say("storage flushed")
                    elif STUBBORN and name == "S1":
                        await trio.sleep(30)
                    say(f"stop {name}")
        return run

    async def main():
        bus = EventBus()
        floor = Supervisor("floor", [ChildSpec(n, child(n), shutdown_timeout_s=60)
                                      for n in ("storage", "S1", "S2")], bus=bus)

        async def run_floor(task_status=trio.TASK_STATUS_IGNORED):
            async def ready(task_status=trio.TASK_STATUS_IGNORED):
                await floor.run(task_status=task_status)
            async with trio.open_nursery() as n:
                await n.start(ready)
                say("ready")
                task_status.started()

        signum = await run_until_signalled(run_floor, lambda: say("valves closed"))
        say(f"exit after signal {signum}")

    trio.run(main)
    """
)


def start(mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_closes_valves_then_stops_in_reverse_order(signum: int) -> None:
    proc = start("normal")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        "valves closed", "stop S2", "stop S1", "storage flushed", "stop storage",
        f"exit after signal {int(signum)}",
    ]  # fmt: skip


def test_second_signal_exits_at_once() -> None:
    proc = start("stubborn")
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "valves closed"
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 128 + signal.SIGTERM
