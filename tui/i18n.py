"""The console's words, in Chinese (the default) and English.

Codes (states, reason codes, alarm states, roles) stay codes everywhere else; only the screens turn
them into words, here. A code without words is shown as itself, so a newer floor never breaks an
older console. Reason codes have their words in `domain.reasons`, shared with the rest of the floor.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from domain.alarm_notices import alarm_message
from domain.catalogue import render
from domain.checks import CHECK_ITEMS
from domain.reasons import describe

__all__ = ["CHECK_ITEMS", "Texts", "plain"]


def plain(text: str) -> str:
    """Text from the floor (device and user text inside it) with its control characters taken out:
    an escape sequence in a label must not reach the terminal. Shown as plain text, never markup."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


_ZH: dict[str, str] = {
    # screens and keys
    "title": "充装站监控台",
    "sep": "；",
    "screen.floor": "站台",
    "screen.alarms": "报警",
    "screen.station": "工位详情",
    "screen.maintenance": "维护",
    "screen.checker": "充装前后检查",
    "screen.shift": "本班统计",
    "key.quit": "退出",
    "key.ack": "确认",
    "key.shelve": "搁置",
    "key.restart": "重启",
    "key.out_of_service": "停用",
    "key.return_to_service": "恢复使用",
    "key.pause": "暂停",
    "key.resume": "继续",
    "key.next_station": "下一工位",
    "key.prev_station": "上一工位",
    "key.submit": "提交",
    "key.cycle": "切换",
    # header and link
    "link.connecting": "正在连接…",
    "link.connected": "已连接",
    "link.disconnected": "连接中断，正在重连",
    "link.refused": "无法登录",
    "header.unacknowledged": "未确认报警 {n}",
    "header.user": "{user}（{role}）",
    "storage.unhealthy": "记录存储故障：新充装已停止",
    "backlog": "待写记录 {n}",
    # tiles
    "tile.operator": "操作员",
    "tile.none": "—",
    "tile.weight": "毛重",
    "tile.target": "目标",
    "tile.last_error": "最近问题",
    "tile.preact": "提前量",
    # tables
    "col.time": "时间",
    "col.severity": "级别",
    "col.station": "工位",
    "col.state": "状态",
    "col.text": "内容",
    "col.cylinder": "钢瓶",
    "col.net": "净重 kg",
    "col.error": "误差 g",
    "col.flags": "标记",
    "col.reasons": "原因",
    "col.phase": "阶段",
    "col.result": "结果",
    "col.checker": "检查员",
    "col.actor": "执行单元",
    "col.health": "健康",
    "col.restarts": "重启次数",
    "col.last_error": "最近错误",
    "col.link": "设备链路",
    "col.figure": "项目",
    "col.value": "数值",
    "col.count": "次数",
    "station.fills": "最近充装",
    "station.refusals": "最近拒绝",
    "station.checks": "最近检查",
    "station.none": "尚无工位",
    "aborted": "中止：{reason}",
    # shift
    "shift.fills": "充装瓶数",
    "shift.aborted": "中止次数",
    "shift.refusals": "拒绝次数",
    "shift.mean_error": "平均绝对误差 g",
    "shift.overfills": "过量充装",
    "shift.underfills": "充装不足",
    "shift.per_hour": "每小时瓶数",
    "shift.by_reason": "拒绝原因",
    "sync.title": "平台同步",
    "sync.backlog": "待上传记录",
    "sync.last_success": "最近成功",
    "sync.dead_letters": "被拒记录",
    "sync.none": "未配置平台同步",
    "sync.status": "上传状态",
    "sync.registry": "档案同步",
    "sync.current": "已是最新",
    "sync.behind": "尚未同步",
    "sync.dead_letter_list": "被拒记录（最近）",
    # checker
    "check.cylinder": "钢瓶编码",
    "check.phase": "检查阶段",
    "check.pre": "充装前",
    "check.post": "充装后",
    "check.result": "检查结果",
    "check.pass": "合格",
    "check.fail": "不合格",
    "check.station": "工位（可选）",
    "check.items": "检查项目",
    "check.keys": "空格：未检 → 合格 → 不合格；1 合格，2 不合格，0 未检",
    "check.state.not_checked": "未检",
    "check.state.ok": "合格",
    "check.state.failed": "不合格",
    "check.incomplete": "未完成：{n} 项未检",
    "check.still_open": "未提交：以下项目尚未检查合格：{items}",
    "check.sent": "已提交：{message}",
    "check.refused": "未接受：{message}",
    "check.need_cylinder": "请填写钢瓶编码",
    # confirmations and replies
    "confirm.restart": "确定重启 {target}？",
    "confirm.out_of_service": "确定停用工位 {target}？",
    "confirm.yes": "确定",
    "confirm.no": "取消",
    "reply.ok": "完成：{message}",
    "reply.refused": "被拒绝：{message}",
    "alarm.none": "无报警",
    "bye": "监控台被服务器断开：{reason}",
    # why the link is down (the technical detail goes on the line below, after "detail")
    "link.why.unreachable": "连不上监控服务器",
    "link.why.closed": "服务器关闭了连接",
    "link.why.timeout": "服务器无响应",
    "link.why.bye": "服务器断开了本监控台",
    "link.detail": "技术细节",
    "console.crashed": "监控台内部错误，连接已停止；请重启监控台",
}

_EN: dict[str, str] = {
    "title": "Filling floor console",
    "sep": "; ",
    "screen.floor": "Floor",
    "screen.alarms": "Alarms",
    "screen.station": "Station",
    "screen.maintenance": "Maintenance",
    "screen.checker": "Checks",
    "screen.shift": "Shift",
    "key.quit": "Quit",
    "key.ack": "Acknowledge",
    "key.shelve": "Shelve",
    "key.restart": "Restart",
    "key.out_of_service": "Out of service",
    "key.return_to_service": "Back in service",
    "key.pause": "Pause",
    "key.resume": "Resume",
    "key.next_station": "Next station",
    "key.prev_station": "Prev station",
    "key.submit": "Submit",
    "key.cycle": "Change",
    "link.connecting": "connecting…",
    "link.connected": "connected",
    "link.disconnected": "DISCONNECTED, reconnecting",
    "link.refused": "login refused",
    "header.unacknowledged": "unacknowledged alarms {n}",
    "header.user": "{user} ({role})",
    "storage.unhealthy": "record storage failing: no new fills",
    "backlog": "records waiting {n}",
    "tile.operator": "Operator",
    "tile.none": "-",
    "tile.weight": "Gross",
    "tile.target": "Target",
    "tile.last_error": "Last problem",
    "tile.preact": "Preact",
    "col.time": "Time",
    "col.severity": "Severity",
    "col.station": "Station",
    "col.state": "State",
    "col.text": "Text",
    "col.cylinder": "Cylinder",
    "col.net": "Net kg",
    "col.error": "Error g",
    "col.flags": "Flags",
    "col.reasons": "Reasons",
    "col.phase": "Phase",
    "col.result": "Result",
    "col.checker": "Checker",
    "col.actor": "Actor",
    "col.health": "Health",
    "col.restarts": "Restarts",
    "col.last_error": "Last error",
    "col.link": "Device link",
    "col.figure": "Figure",
    "col.value": "Value",
    "col.count": "Count",
    "station.fills": "Recent fills",
    "station.refusals": "Recent refusals",
    "station.checks": "Recent checks",
    "station.none": "no stations yet",
    "aborted": "aborted: {reason}",
    "shift.fills": "Fills",
    "shift.aborted": "Aborted",
    "shift.refusals": "Refusals",
    "shift.mean_error": "Mean |error| g",
    "shift.overfills": "Overfills",
    "shift.underfills": "Underfills",
    "shift.per_hour": "Fills per hour",
    "shift.by_reason": "Refusals by reason",
    "sync.title": "Platform sync",
    "sync.backlog": "Records to upload",
    "sync.last_success": "Last success",
    "sync.dead_letters": "Dead letters",
    "sync.none": "platform sync not configured",
    "sync.status": "Upload",
    "sync.registry": "Registry",
    "sync.current": "current",
    "sync.behind": "not yet synced",
    "sync.dead_letter_list": "Dead letters (latest)",
    "check.cylinder": "Cylinder code",
    "check.phase": "Phase",
    "check.pre": "Pre-fill",
    "check.post": "Post-fill",
    "check.result": "Result",
    "check.pass": "Pass",
    "check.fail": "Fail",
    "check.station": "Station (optional)",
    "check.items": "Items",
    "check.keys": "Space: not checked → passed → failed; 1 passed, 2 failed, 0 not checked",
    "check.state.not_checked": "not checked",
    "check.state.ok": "passed",
    "check.state.failed": "failed",
    "check.incomplete": "incomplete: {n} open",
    "check.still_open": "not sent: items not yet checked and passed: {items}",
    "check.sent": "Recorded: {message}",
    "check.refused": "Not accepted: {message}",
    "check.need_cylinder": "enter the cylinder code",
    "confirm.restart": "Restart {target}?",
    "confirm.out_of_service": "Take station {target} out of service?",
    "confirm.yes": "Yes",
    "confirm.no": "Cancel",
    "reply.ok": "Done: {message}",
    "reply.refused": "Refused: {message}",
    "alarm.none": "no alarms",
    "bye": "dropped by the server: {reason}",
    "link.why.unreachable": "cannot reach the console server",
    "link.why.closed": "the server closed the link",
    "link.why.timeout": "the server does not answer",
    "link.why.bye": "the server dropped this console",
    "link.detail": "detail",
    "console.crashed": "console error: the link has stopped; restart the console",
}

_STATES = {
    "idle": ("空闲", "idle"),
    "verifying": ("核验中", "verifying"),
    "awaiting_precheck": ("待充装前检查", "awaiting pre-check"),
    "ready": ("就绪", "ready"),
    "filling": ("充装中", "filling"),
    "settling": ("稳定中", "settling"),
    "awaiting_postcheck": ("待充装后检查", "awaiting post-check"),
    "done": ("完成", "done"),
    "rejected": ("拒绝充装", "rejected"),
    "paused": ("已暂停", "paused"),
    "fault": ("故障", "fault"),
    "out_of_service": ("停用", "out of service"),
}

_WORDS = {
    # alarm states (ISA-18.2) and severities
    "unacknowledged": ("未确认", "unacknowledged"),
    "acknowledged": ("已确认", "acknowledged"),
    "cleared_unacknowledged": ("已恢复未确认", "cleared, unacknowledged"),
    "shelved": ("已搁置", "shelved"),
    "critical": ("紧急", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
    # roles
    "viewer": ("查看", "viewer"),
    "operator": ("操作员", "operator"),
    "checker": ("检查员", "checker"),
    "maintenance": ("维护", "maintenance"),
    "supervisor": ("班长", "supervisor"),
    # actor health
    "running": ("运行", "running"),
    "restarting": ("重启中", "restarting"),
    "stopped": ("已停止", "stopped"),
    "failed": ("失败", "failed"),
    "starting": ("启动中", "starting"),
    # a device actor's link (F4)
    "link.connecting": ("连接中", "connecting"),
    "link.up": ("已连接", "connected"),
    "link.lost": ("已断开", "lost"),
    # check phases and results
    "pre": ("充装前", "pre-fill"),
    "post": ("充装后", "post-fill"),
    "pass": ("合格", "pass"),
    "fail": ("不合格", "fail"),
    # the records the platform sync uploads (a dead letter's kind)
    "fill": ("充装记录", "fill"),
    "check": ("检查记录", "check"),
    "refusal": ("拒绝记录", "refusal"),
    # cut-off modes (who closes the valve at target)
    "indicator": ("仪表切断", "indicator cut-off"),
    "host": ("主机切断", "host cut-off"),
}

# The platform sync's upload and registry states (platform_client.sync).
_SYNC_STATUS: dict[str, tuple[str, str]] = {
    "ok": ("正常", "ok"),
    "starting": ("启动中", "starting"),
    "unreachable": ("无法连接平台", "platform unreachable"),
    "timeout": ("平台无响应", "platform timed out"),
    "lost_reply": ("平台回复丢失，将重发", "reply lost: will resend"),
    "bad_reply": ("平台回复无法识别", "unreadable reply"),
    "forged_reply": ("平台回复签名不符，未采用", "reply not signed by the platform: ignored"),
    "partial": ("平台只回复了部分记录", "platform answered part of the batch"),
    "http_5xx": ("平台故障，稍后重试", "platform error: retrying later"),
    "http_429": ("平台限流，稍后重试", "platform busy: retrying later"),
    "http_401": ("平台拒绝本单位密钥", "platform refuses the unit's key"),
    "http_403": ("平台拒绝本单位密钥", "platform refuses the unit's key"),
    "bad_change": ("平台档案变更无法识别，已停在此处", "a registry change could not be read: stopped there"),
    "error": ("同步内部错误，稍后重试", "sync error: retrying later"),
}


class Texts:
    """The words of one language."""

    def __init__(self, lang: str) -> None:
        if lang not in ("zh", "en"):
            raise ValueError(f"language must be zh or en, not {lang!r}")
        self.lang = lang
        self._texts = _ZH if lang == "zh" else _EN

    def __call__(self, key: str, **fields: object) -> str:
        text = self._texts.get(key, key)
        return text.format(**fields) if fields else text

    def _word(self, table: dict[str, tuple[str, str]], code: str) -> str:
        words = table.get(code)
        if words is None:
            return code
        return words[0] if self.lang == "zh" else words[1]

    def state(self, code: str) -> str:
        return self._word(_STATES, code)

    def word(self, code: str) -> str:
        return self._word(_WORDS, code)

    def sync_status(self, status: str) -> str:
        """The platform sync's state in words (the code kept for maintenance: `http_503`)."""
        family = "http_5xx" if status.startswith("http_5") else status
        words = _SYNC_STATUS.get(family)
        if words is None:
            return status
        text = words[0] if self.lang == "zh" else words[1]
        return text if status in ("ok", "starting") else f"{text} ({status})"

    def reason(self, code: str) -> str:
        return describe(code, self.lang)

    def said(self, code: str, params: Mapping[str, Any] | None = None) -> str:
        """What the floor said as a code (a reply, a refusal, an alarm), in words (`domain.catalogue`)."""
        return plain(render(code, params, self.lang))

    def alarm_text(
        self, kind: str, text_name: str | None, params: Mapping[str, Any] | None, message: str
    ) -> str:
        """An alarm's text: from its kind's text and parameters where the floor sent them and this
        build knows the kind, else the floor's own message (in the floor's language)."""
        worded = None
        if text_name is not None and params is not None:
            given = {k: str(v) for k, v in params.items()}
            worded = alarm_message(kind, text_name, given, self.lang)
        return plain(message if worded is None else worded)

    def check_items(self, phase: str) -> list[tuple[str, str]]:
        return [(key, zh if self.lang == "zh" else en) for key, zh, en in CHECK_ITEMS[phase]]
