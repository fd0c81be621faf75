"""The actor runtime: a supervision tree on trio, in the manner of Erlang/OTP (docs/runtime.md).

Layout, one idea per module, leaves first:
- mailbox.py     how an actor receives: Mailbox (never dropped, back-pressure), Latest (telemetry),
                 request/Reply (with a timeout)
- bus.py         the event bus from actors to observers: lossless or coalesced per subscriber
- health.py      what every actor reports (`actor.health`)
- spec.py        child specs, restart policy, strategy, intensity, backoff: data you can print
- supervisor.py  the supervisor: ordered start, reverse stop, restarts, escalation
- permit.py      the permit gate: no permit to fill while a station's scale or valve actor is down
- station.py     a station's supervisor wired to its gate; out of service when it gives up
- maintenance.py restart / out of service / tree, role-checked and audited
- shutdown.py    SIGINT/SIGTERM: valves first, then the tree in reverse order
"""

from __future__ import annotations

from supervisor.runtime.bus import Event, EventBus, SubscriberLagged, Subscription
from supervisor.runtime.health import ActorHealth, HealthState
from supervisor.runtime.mailbox import Latest, Mailbox, MailboxFull, Reply, RequestTimeout, request
from supervisor.runtime.maintenance import AuditSink, CommandResult, Maintenance
from supervisor.runtime.permit import REQUIRED_DEVICES, PermitGate
from supervisor.runtime.shutdown import run_until_signalled
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity, Restart, StartFn, Strategy
from supervisor.runtime.station import StationRuntime
from supervisor.runtime.supervisor import ChildView, NotRunning, Supervisor, SupervisorGaveUp

__all__ = [
    "REQUIRED_DEVICES",
    "ActorHealth",
    "AuditSink",
    "Backoff",
    "ChildSpec",
    "ChildView",
    "CommandResult",
    "Event",
    "EventBus",
    "HealthState",
    "Intensity",
    "Latest",
    "Mailbox",
    "MailboxFull",
    "Maintenance",
    "NotRunning",
    "PermitGate",
    "Reply",
    "RequestTimeout",
    "Restart",
    "StartFn",
    "StationRuntime",
    "Strategy",
    "SubscriberLagged",
    "Subscription",
    "Supervisor",
    "SupervisorGaveUp",
    "request",
    "run_until_signalled",
]
