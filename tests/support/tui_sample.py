"""A floor as a console sees it, for the console's tests: every screen has something to show."""

from __future__ import annotations

from typing import Any

from supervisor.console.protocol import Snapshot, Welcome
from tui.model import ConsoleModel

T0 = 1_764_050_000.0  # 2025-11-25 13:53:20 in Asia/Shanghai


def sample_snapshot() -> dict[str, Any]:
    fill = {"type": "fill.completed", "station": "S1", "cylinder": "HY00120001000", "net_kg": 14.492,
            "error_g": -8, "flags": [], "at": T0 - 300}  # fmt: skip
    over = {"type": "fill.completed", "station": "S1", "cylinder": "HY00120001001", "net_kg": 15.02,
            "error_g": 520, "flags": ["overfill"], "at": T0 - 200}  # fmt: skip
    aborted = {"type": "fill.aborted", "station": "S1", "cylinder": "HY00120001002",
               "reason": "fill.stalled", "at": T0 - 100}  # fmt: skip
    return {
        "stations": [
            {"id": "S1", "state": "filling", "cylinder": "HY00120001003", "operator": "OP01",
             "operator_name": "张三", "gross_kg": 24.31, "stable": False, "target_kg": 29.7, "tare_kg": 15.2,
             "preact_kg": 0.26, "cutoff": "indicator", "faults": [], "recent_fills": [aborted, over, fill],
             "recent_refusals": [{"station": "S1", "cylinder": "HY00120009001",
                                  "reasons": ["cylinder.inspection_overdue", "precheck.missing"],
                                  "at": T0 - 250}],
             "recent_checks": [{"station": "S1", "cylinder": "HY00120001003", "phase": "pre",
                                "result": "pass", "checker": "CK01", "at": T0 - 60}]},
            # Device text is data: a label that looks like markup is shown as it is.
            {"id": "S2", "state": "rejected", "cylinder": "[red]HY0033[/red]", "operator": "OP02",
             "operator_name": "李四", "gross_kg": 15.41, "stable": True, "target_kg": None, "preact_kg": 0.3,
             "cutoff": "host", "faults": [], "recent_fills": [],
             "recent_refusals": [{"station": "S2", "cylinder": "[red]HY0033[/red]",
                                  "reasons": ["label.foreign_unit"], "at": T0 - 20}], "recent_checks": []},
            {"id": "S3", "state": "fault", "cylinder": None, "operator": None, "operator_name": None,
             "gross_kg": None, "stable": None, "target_kg": None, "preact_kg": None, "cutoff": "indicator",
             "faults": ["scale"], "recent_fills": [], "recent_refusals": [], "recent_checks": []},
            {"id": "S4", "state": "idle", "cylinder": None, "operator": "OP04", "operator_name": "赵六",
             "gross_kg": 0.01, "stable": True, "target_kg": None, "preact_kg": 0.28, "cutoff": "host",
             "faults": [], "recent_fills": [], "recent_refusals": [], "recent_checks": []},
        ],
        "alarms": [
            {"alarm_id": "S3.scale_lost", "kind": "device.scale_lost", "severity": "high",
             "message": "与秤失去联系: connection refused", "station": "S3", "state": "unacknowledged",
             "raised_at": T0 - 30},
            {"alarm_id": "S1.valve_stuck_open", "kind": "valve.stuck_open", "severity": "critical",
             "message": "阀门关闭失败", "station": "S1", "state": "acknowledged", "raised_at": T0 - 900},
            {"alarm_id": "S2.scanner_lost", "kind": "device.scanner_lost", "severity": "medium",
             "message": "扫码枪断开", "station": "S2", "state": "shelved", "raised_at": T0 - 1200},
        ],
        "unacknowledged": 1,
        "actors": [
            {"actor": "storage", "state": "running", "restarts": 0, "depth": 0},
            {"actor": "S2", "state": "running", "restarts": 0, "depth": 0},
            {"actor": "S2.scale", "state": "running", "restarts": 0, "depth": 1, "link": "up"},
            {"actor": "S2.scanner", "state": "running", "restarts": 1, "depth": 1, "link": "lost"},
            {"actor": "S3", "state": "failed", "restarts": 0, "depth": 0,
             "error": "SupervisorGaveUp: S3.scale restarted more than 3 times in 30 s"},
            {"actor": "S3.scale", "state": "failed", "restarts": 3, "depth": 1,
             "error": "DeviceCrash: [b]x[/b]"},
            {"actor": "S3.valve", "state": "stopped", "restarts": 0, "depth": 1},
        ],
        "shift": {"fills": 42, "aborted": 1, "refusals": 5,
                  "refusals_by_reason": {"cylinder.inspection_overdue": 3, "label.foreign_unit": 2},
                  "mean_abs_error_g": 14.2, "overfills": 1, "underfills": 0, "fills_per_hour": 96.5},
        "sync": {"backlog": 12, "dead_letters": 1, "last_success": 1795500000.0, "status": "http_503",
                 "detail": "platform.error simulated 503", "registry_current": True, "registry_status": "ok",
                 "recent_dead_letters": [
                     {"record_id": "check-7f3a", "kind": "check",
                      "reason": "record.bad_field: records[0].payload.phase: [red]x[/red]"}]},
        "records_backlog": 0,
        "storage_healthy": True,
    }  # fmt: skip


def sample_model(link: str = "connected") -> ConsoleModel:
    model = ConsoleModel()
    model.receive(Welcome("王班长", "supervisor"))
    model.receive(Snapshot(sample_snapshot()))
    model.link = link
    return model
