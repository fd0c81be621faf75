"""Alarm kinds: the stable identifiers of every alarm the floor raises, their severity and texts.

Like reason codes, kinds are contracts: the console, the records, the platform and the operator
documentation (docs/operations/*/alarms.md, kept honest by tests/project/test_docs_operations.py) match on
them. Some kinds are also reason codes (a lost scale both aborts a fill and raises an alarm); the
values are then the same strings. Never rename a kind; add new ones.

The texts live here, one table keyed by kind, in Chinese and English: an alarm is raised with its
kind and parameters (`domain.alarm_notices.AlarmNotice`), and its message is rendered from them in
the floor's language when it is stored and published, so a console could render the same alarm in
its own. A kind has a text for its raise and, where the clear says something else, for its clear
(and a few have a variant: a scale that fell silent says so without a detail). A text's wording is
what the records and the platform hold: change it and old and new records disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from attrs import frozen

__all__ = ["ALARM_TEXTS", "GUARD_RULE_TEXTS", "SEVERITY", "AlarmKind", "AlarmText", "Severity", "error_words"]


class AlarmKind(StrEnum):
    """Every kind of alarm the floor raises (the `kind` of `alarm.raised` and of an alarm record)."""

    DEVICE_SCALE_LOST = "device.scale_lost"  # no answer from the scale (or no sample in time)
    DEVICE_VALVE_LOST = "device.valve_lost"  # no answer from the valve
    DEVICE_SCANNER_LOST = "device.scanner_lost"  # the scanner's line is down
    PLATFORM_CREDENTIALS_REFUSED = "platform.credentials_refused"  # the platform refuses the unit's key
    SCANNER_JUNK = "scanner.junk"  # a burst of unreadable frames (counted, not recorded one by one)
    VALVE_STUCK_OPEN = "valve.stuck_open"  # ordered closed, the position switch still says open
    FILL_OVERFILL = "fill.overfill"  # over tolerance: must not leave until the excess is removed
    FILL_OVER_MAX = "fill.over_max"  # above the cylinder's maximum fill
    FILL_READING_NOT_CREDIBLE = "fill.reading_not_credible"  # the fill guard closed the valve
    FILL_REWEIGH_UNSTABLE = "fill.reweigh_unstable"  # no stable re-weigh: last reading recorded
    CHECK_POST_FAILED = "check.post_failed"  # a post-fill check failed: the cylinder is held
    CHECK_POST_MISSING = "check.post_missing"  # lifted off without its post-fill check: held
    STORAGE_UNAVAILABLE = "storage.unavailable"  # records cannot be written: no permits
    INTERNAL_ERROR = "internal.error"  # the station closed safe on an unexpected error
    STATION_OUT_OF_SERVICE = "station.out_of_service"  # an actor kept failing past its restart limit


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# One severity a kind: its raise and its clear say the same (ISA-18.2: one alarm, two records).
SEVERITY: Mapping[AlarmKind, Severity] = {
    AlarmKind.DEVICE_SCALE_LOST: Severity.HIGH,
    AlarmKind.DEVICE_VALVE_LOST: Severity.HIGH,
    AlarmKind.DEVICE_SCANNER_LOST: Severity.MEDIUM,
    AlarmKind.SCANNER_JUNK: Severity.MEDIUM,
    AlarmKind.PLATFORM_CREDENTIALS_REFUSED: Severity.HIGH,
    AlarmKind.VALVE_STUCK_OPEN: Severity.CRITICAL,
    AlarmKind.FILL_OVERFILL: Severity.HIGH,
    AlarmKind.FILL_OVER_MAX: Severity.CRITICAL,
    AlarmKind.FILL_READING_NOT_CREDIBLE: Severity.CRITICAL,
    AlarmKind.FILL_REWEIGH_UNSTABLE: Severity.MEDIUM,
    AlarmKind.CHECK_POST_FAILED: Severity.HIGH,
    AlarmKind.CHECK_POST_MISSING: Severity.HIGH,
    AlarmKind.STORAGE_UNAVAILABLE: Severity.CRITICAL,
    AlarmKind.INTERNAL_ERROR: Severity.CRITICAL,
    AlarmKind.STATION_OUT_OF_SERVICE: Severity.HIGH,
}


@frozen
class AlarmText:
    """A text's templates (`str.format` fields name the alarm's parameters)."""

    zh: str
    en: str

    def render(self, lang: str, params: Mapping[str, str]) -> str:
        # A parameter left out is left empty: an alarm is never lost over its wording.
        return (self.zh if lang == "zh" else self.en).format_map(_Given(params))


class _Given(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


_EMPTY = AlarmText("", "")

# kind -> text name -> templates. "raised" is a raise's text; "cleared" a clear's, where it does not
# repeat the raise (a clear that repeats it is raised with the raise's text name and parameters).
ALARM_TEXTS: Mapping[AlarmKind, Mapping[str, AlarmText]] = {
    AlarmKind.DEVICE_SCALE_LOST: {
        "raised": AlarmText("与秤失去联系: {detail}", "scale contact lost: {detail}"),
        "silent": AlarmText("与秤失去联系", "scale contact lost"),
    },
    AlarmKind.DEVICE_VALVE_LOST: {
        "raised": AlarmText("与阀门失去联系: {detail}", "valve contact lost: {detail}"),
        "silent": AlarmText("与阀门失去联系", "valve contact lost"),
    },
    AlarmKind.DEVICE_SCANNER_LOST: {
        "raised": AlarmText("扫码枪断开：{detail}", "scanner lost: {detail}"),
        "cleared": _EMPTY,
    },
    AlarmKind.PLATFORM_CREDENTIALS_REFUSED: {
        "raised": AlarmText(
            "城市平台拒绝本单位的密钥（{status}）：记录留在本地待上传；核对 {key_env}",
            "the city platform refuses the unit's key ({status}): records wait here; check {key_env}",
        ),
    },
    AlarmKind.SCANNER_JUNK: {
        "raised": AlarmText(
            "扫码枪连续发来无法识别的数据（已超过 {frames} 帧）：检查扫码枪及其线路",
            "the scanner keeps sending unreadable frames (over {frames}): check it and its line",
        ),
    },
    AlarmKind.VALVE_STUCK_OPEN: {
        "raised": AlarmText("阀门未按指令关闭（卡开）", "valve stuck open: it did not close on command"),
    },
    AlarmKind.FILL_OVERFILL: {
        # (the full-width colon in English too: the records have always had it)
        "raised": AlarmText("超装，须抽出多余：{code}", "overfill: remove the excess：{code}"),
        "cleared": _EMPTY,
    },
    AlarmKind.FILL_OVER_MAX: {
        "raised": AlarmText("超过最大充装量：{code}", "above the maximum fill: {code}"),
    },
    AlarmKind.FILL_READING_NOT_CREDIBLE: {
        "raised": AlarmText(
            "称重读数不可信（{rule}），已关阀；请检查秤",
            "scale reading not credible ({rule}): valve closed; check the scale",
        ),
    },
    AlarmKind.FILL_REWEIGH_UNSTABLE: {
        "raised": AlarmText("复称未稳定，按最后读数记录", "re-weigh not stable: last reading recorded"),
    },
    AlarmKind.CHECK_POST_FAILED: {
        "raised": AlarmText("充装后检查不合格：{code}", "post-fill check failed: {code}"),
        "cleared": AlarmText("充装后复检合格：{code}", "post-fill check passed again: {code}"),
    },
    AlarmKind.CHECK_POST_MISSING: {
        "raised": AlarmText(
            "气瓶未做充装后检查即离开工位：{code}", "cylinder left without its post-fill check: {code}"
        ),
        "cleared": AlarmText("充装后检查已补录：{code}", "post-fill check recorded: {code}"),
    },
    AlarmKind.STORAGE_UNAVAILABLE: {
        "raised": AlarmText(
            "记录无法写入，停止发放充装许可：{detail}", "records cannot be written; no permits: {detail}"
        ),
        "cleared": _EMPTY,
    },
    AlarmKind.INTERNAL_ERROR: {
        "raised": AlarmText("内部错误，已安全关阀: {error}", "internal error: closed safe: {error}"),
    },
    AlarmKind.STATION_OUT_OF_SERVICE: {
        # (English in both languages until 2026-12: older zh records say it in English)
        "raised": AlarmText(
            "{actor} 反复失败（{error}），工位停用",
            "{actor} keeps failing ({error}); station out of service",
        ),
    },
}

# The fill guard's rules (domain/fill_guard.py), as the `rule` of `fill.reading_not_credible` says them.
# What an actor's failure (an exception's class, as an alarm's `error` parameter keeps it for
# maintenance) means, in words: the class is no word a supervisor reads.
_ERROR_KINDS: tuple[tuple[frozenset[str], AlarmText], ...] = (
    (frozenset({"ModbusTimeout", "TimeoutError", "TooSlowError", "RequestTimeout"}),
     AlarmText("设备无响应", "device not answering")),
    (frozenset({"ModbusError", "ModbusMalformed", "ModbusExceptionResponse"}),
     AlarmText("设备通讯错误", "device communication error")),
    (frozenset({"LinkClosed", "ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError",
                "OSError", "SerialException", "BrokenResourceError", "ClosedResourceError"}),
     AlarmText("设备连接中断", "device link lost")),
    (frozenset({"SupervisorGaveUp"}), AlarmText("反复重启无效", "restarts did not help")),
)  # fmt: skip
_ERROR_OTHER = AlarmText("设备或程序故障", "device or software fault")


def error_words(error: str) -> AlarmText:
    """An error as an alarm names it (an exception's class, perhaps with its text after a colon)."""
    name = error.split(":", 1)[0].strip()
    return next((words for names, words in _ERROR_KINDS if name in names), _ERROR_OTHER)


GUARD_RULE_TEXTS: Mapping[str, AlarmText] = {
    "dead_reckoning": AlarmText(
        "按学习流量推算已到切断点而读数未到", "the learned flow says the cut-off is passed"
    ),
    "time_cap": AlarmText(
        "按最大流量推算将超过最大充装量", "at the fastest flow the maximum fill would be passed"
    ),
    "stopped": AlarmText("阀门开启而读数不变", "the reading stopped while the valve is open"),
    "rate_low": AlarmText("读数上升远慢于本工位流量", "the reading rises far slower than the station's flow"),
    "rate_high": AlarmText(
        "读数上升远快于本工位流量", "the reading rises far faster than the station's flow"
    ),
    "": _EMPTY,
}
