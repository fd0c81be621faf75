"""Reason codes: stable identifiers with their Chinese and English texts.

Codes are contracts (docs/domain.md, "Reason codes"): machines and tests match on the code, screens show
the text. Never rename a code; add new ones.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FILL_ABORTS", "REFUSALS", "FillFlag", "Reason", "describe"]


class Reason(StrEnum):
    """Every reason the floor gives for refusing or aborting a fill."""

    # Refusals before filling.
    LABEL_UNREADABLE = "label.unreadable"
    LABEL_FOREIGN_UNIT = "label.foreign_unit"
    CYLINDER_UNKNOWN = "cylinder.unknown"
    CYLINDER_NOT_OWN_PROPERTY = "cylinder.not_own_property"
    CYLINDER_SCRAPPED = "cylinder.scrapped"
    CYLINDER_PAST_SCRAP_DATE = "cylinder.past_scrap_date"
    CYLINDER_INSPECTION_OVERDUE = "cylinder.inspection_overdue"
    CYLINDER_BLOCKED = "cylinder.blocked"
    CYLINDER_TARE_UNKNOWN = "cylinder.tare_unknown"
    CYLINDER_MODEL_NOT_ALLOWED = "cylinder.model_not_allowed"
    CYLINDER_IN_USE = "cylinder.in_use"
    CYLINDER_OVERFILL_UNRESOLVED = "cylinder.overfill_unresolved"
    OPERATOR_NONE = "operator.none"
    OPERATOR_UNKNOWN = "operator.unknown"
    OPERATOR_CERTIFICATE_EXPIRED = "operator.certificate_expired"
    PRECHECK_MISSING = "precheck.missing"
    PRECHECK_FAILED = "precheck.failed"
    PRECHECK_INCOMPLETE = "precheck.incomplete"
    POSTCHECK_MISSING = "postcheck.missing"
    SCALE_NO_CYLINDER = "scale.no_cylinder"
    SCALE_UNSTABLE = "scale.unstable"
    TARE_BELOW_ARCHIVE = "tare.below_archive"
    TARE_RESIDUAL_EXCESS = "tare.residual_excess"
    STATION_PAUSED = "station.paused"
    STATION_FAULT = "station.fault"
    STATION_OUT_OF_SERVICE = "station.out_of_service"
    STATION_DISABLED_BY_REGULATOR = "station.disabled_by_regulator"
    DEVICE_SCALE_UNAVAILABLE = "device.scale_unavailable"
    DEVICE_VALVE_UNAVAILABLE = "device.valve_unavailable"
    # Fill aborts: the valve closes at once.
    FILL_STALLED = "fill.stalled"
    FILL_WEIGHT_DROP = "fill.weight_drop"
    FILL_CYLINDER_REMOVED = "fill.cylinder_removed"
    FILL_MAX_TIME = "fill.max_time"
    FILL_HARD_CAP = "fill.hard_cap"
    DEVICE_SCALE_LOST = "device.scale_lost"
    DEVICE_VALVE_LOST = "device.valve_lost"
    VALVE_FEEDBACK_MISMATCH = "valve.feedback_mismatch"
    OPERATOR_STOP = "operator.stop"
    SUPERVISOR_SHUTDOWN = "supervisor.shutdown"
    INTERNAL_ERROR = "internal.error"
    FILL_READING_NOT_CREDIBLE = "fill.reading_not_credible"


class FillFlag(StrEnum):
    """Flags set on a fill after the re-weigh (docs/domain.md, "Fill flags after re-weigh")."""

    OVERFILL = "overfill"
    UNDERFILL = "underfill"
    OVER_MAX = "over_max"


FILL_ABORTS: frozenset[Reason] = frozenset(
    {
        Reason.FILL_STALLED,
        Reason.FILL_WEIGHT_DROP,
        Reason.FILL_CYLINDER_REMOVED,
        Reason.FILL_MAX_TIME,
        Reason.FILL_HARD_CAP,
        Reason.DEVICE_SCALE_LOST,
        Reason.DEVICE_VALVE_LOST,
        Reason.VALVE_FEEDBACK_MISMATCH,
        Reason.OPERATOR_STOP,
        Reason.SUPERVISOR_SHUTDOWN,
        Reason.INTERNAL_ERROR,
        Reason.FILL_READING_NOT_CREDIBLE,
    }
)
REFUSALS: frozenset[Reason] = frozenset(Reason) - FILL_ABORTS

_TEXTS: dict[str, tuple[str, str]] = {
    Reason.LABEL_UNREADABLE: ("标签无法识别", "label unreadable"),
    Reason.LABEL_FOREIGN_UNIT: ("非本单位气瓶（非自有产权）", "cylinder of another filling unit"),
    Reason.CYLINDER_UNKNOWN: ("无此气瓶档案", "no archive for this cylinder"),
    Reason.CYLINDER_NOT_OWN_PROPERTY: ("非自有产权气瓶", "not the unit's own property"),
    Reason.CYLINDER_SCRAPPED: ("气瓶已报废或注销", "cylinder scrapped or cancelled"),
    Reason.CYLINDER_PAST_SCRAP_DATE: ("已到报废日期或设计使用年限", "past scrap date or service life"),
    Reason.CYLINDER_INSPECTION_OVERDUE: ("超期未检", "periodic inspection overdue"),
    Reason.CYLINDER_BLOCKED: ("气瓶已被锁定", "cylinder blocked"),
    Reason.CYLINDER_TARE_UNKNOWN: ("档案无可用皮重", "no usable tare in the archive"),
    Reason.CYLINDER_MODEL_NOT_ALLOWED: ("瓶型未知或本秤不允许", "model unknown or not allowed here"),
    Reason.CYLINDER_IN_USE: ("该气瓶正在其他工位", "cylinder is at another station"),
    Reason.CYLINDER_OVERFILL_UNRESOLVED: ("上次超装未处理", "last overfill not resolved"),
    Reason.OPERATOR_NONE: ("充装工未登录", "no operator logged in"),
    Reason.OPERATOR_UNKNOWN: ("充装工未登记", "unknown operator"),
    Reason.OPERATOR_CERTIFICATE_EXPIRED: ("充装工证书过期", "operator certificate expired"),
    Reason.PRECHECK_MISSING: ("无有效充装前检查", "no pre-fill check on record"),
    Reason.PRECHECK_FAILED: ("充装前检查不合格", "pre-fill check failed"),
    Reason.PRECHECK_INCOMPLETE: ("充装前检查项目未全部检查合格", "pre-fill check incomplete"),
    Reason.POSTCHECK_MISSING: ("上次充装后未做充装后检查", "post-fill check of the last fill missing"),
    Reason.SCALE_NO_CYLINDER: ("秤上无气瓶", "no cylinder on the scale"),
    Reason.SCALE_UNSTABLE: ("称重不稳定", "no stable reading"),
    Reason.TARE_BELOW_ARCHIVE: ("空瓶重量低于档案皮重", "empty weight below archived tare"),
    Reason.TARE_RESIDUAL_EXCESS: ("残液过多，请先抽残", "residual gas in excess: extract first"),
    Reason.STATION_PAUSED: ("工位已暂停", "station paused"),
    Reason.STATION_FAULT: ("工位故障", "station in fault"),
    Reason.STATION_OUT_OF_SERVICE: ("工位停用", "station out of service"),
    Reason.STATION_DISABLED_BY_REGULATOR: ("监管部门已停用", "disabled by the regulator"),
    Reason.DEVICE_SCALE_UNAVAILABLE: ("秤不可用", "scale unavailable"),
    Reason.DEVICE_VALVE_UNAVAILABLE: ("阀门不可用", "valve unavailable"),
    Reason.FILL_STALLED: ("无流量，充装停止", "no flow: fill stalled"),
    Reason.FILL_WEIGHT_DROP: ("重量下降", "weight dropped"),
    Reason.FILL_CYLINDER_REMOVED: ("气瓶被移走", "cylinder removed"),
    Reason.FILL_MAX_TIME: ("超过最长充装时间", "maximum fill time exceeded"),
    Reason.FILL_HARD_CAP: ("达到重量上限", "overweight hard cap"),
    Reason.DEVICE_SCALE_LOST: ("与秤失去联系", "scale contact lost"),
    Reason.DEVICE_VALVE_LOST: ("与阀门失去联系", "valve contact lost"),
    Reason.VALVE_FEEDBACK_MISMATCH: ("阀门反馈与指令不符", "valve feedback mismatch"),
    Reason.OPERATOR_STOP: ("操作员停止", "operator stop"),
    Reason.SUPERVISOR_SHUTDOWN: ("系统关闭", "supervisor shutdown"),
    Reason.INTERNAL_ERROR: ("内部错误，已安全关阀", "internal error: closed safe"),
    Reason.FILL_READING_NOT_CREDIBLE: ("称重读数不可信，已关阀", "scale reading not credible: valve closed"),
    FillFlag.OVERFILL: ("超装，须抽出多余", "overfill: remove the excess"),
    FillFlag.UNDERFILL: ("欠装，可补装", "underfill: top-up allowed"),
    FillFlag.OVER_MAX: ("超过最大充装量", "above the maximum fill"),
}


def describe(code: str, lang: str = "zh") -> str:
    """The human text of a reason code or fill flag; an unknown code is shown as itself."""
    texts = _TEXTS.get(code)
    if texts is None:
        return code
    return texts[0] if lang == "zh" else texts[1]
