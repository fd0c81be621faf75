"""The words of every code the floor answers a console with: code → (Chinese, English) template.

The floor says what happened as a code with parameters (a console command's reply, a drop, a
refusal); a console puts it in its own language with `render`. The English rendering is also the
text the audit keeps and older consoles show, so an English template says exactly what the floor
said before it spoke in codes: never reword one lightly (the audit's `detail` column holds it).

Reason codes (`domain.reasons`) are codes here too: a command refused for one (a check for an
unknown cylinder) renders as the code, its words and the detail.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from domain.reasons import Reason, describe

__all__ = ["CATALOGUE", "LANGUAGES", "render"]

LANGUAGES = ("zh", "en")

_REPLIES: dict[str, tuple[str, str]] = {
    # a console command, as the server checks it
    "console.unknown_command": ("未知命令 {command!r}（可用：{known}）",
                                "unknown command {command!r} (known: {known})"),
    "console.role_refused": ("角色 {role!r} 无权执行 {command}（仅限 {roles}）",
                             "role {role!r} may not {command} ({roles} only)"),
    "console.station_stuck": ("工位不接受命令（协调器卡住）",
                              "the station is not taking commands (its coordinator is stuck)"),
    "console.bad_text": ("{field}：需要 1..{limit} 个字符的文本",
                         "{field}: a text of 1..{limit} characters is needed"),
    "console.own_station_only": ("操作员只能操作自己的工位（{station}）",
                                 "an operator may act on their own station only ({station})"),
    "console.bad_check_choice": ("阶段须为充装前或充装后，结果须为合格或不合格",
                                 "phase must be pre or post, result pass or fail"),
    "console.bad_items": ("检查项目：最多 32 项文本", "items: an object of up to 32 text fields"),
    "console.bad_minutes": ("分钟数：1..480 的整数", "minutes: an integer 1..480"),
    "console.bad_target": ("目标：需要工位或执行单元名称", "target: a station or actor name is needed"),
    "console.bad_station": ("工位：需要工位编号", "station: a station id is needed"),
    "console.ordered": ("{station}：{command}", "{station}: {command}"),
    "station.unknown": ("没有工位 {station!r}", "no station {station!r}"),
    # checks
    # Taken by the station, not yet stored: the check's event (CheckRecorded) says when it is.
    "check.pre_submitted": ("已提交 {cylinder} 的充装前检查，待记录",
                            "pre-fill check of {cylinder} submitted, to be recorded"),
    "check.post_submitted": ("已提交 {cylinder} 的充装后检查，待记录",
                             "post-fill check of {cylinder} submitted, to be recorded"),
    "check.pre_problem": ("充装前检查：{problem}", "pre-fill check: {problem}"),
    "check.post_problem": ("充装后检查：{problem}", "post-fill check: {problem}"),
    # alarms
    "alarm.acknowledged": ("已确认 {alarm_id}", "{alarm_id} acknowledged"),
    "alarm.shelved": ("已搁置 {alarm_id} {minutes} 分钟", "{alarm_id} shelved for {minutes} min"),
    "alarm.not_unacknowledged": ("没有未确认的报警 {alarm_id!r}", "no unacknowledged alarm {alarm_id!r}"),
    "alarm.unknown": ("没有报警 {alarm_id!r}", "no alarm {alarm_id!r}"),
    # maintenance
    "maintenance.not_running": ("无法执行：{detail}", "{detail}"),
    "maintenance.restarted": ("已重启 {target}", "{target} restarted"),
    "maintenance.restarted_station": ("工位 {station} 已停止，已整体重启以重启 {target}",
                                      "{station} restarted (it was down) to restart {target}"),
    "maintenance.out_of_service": ("工位 {station} 已停用", "{station} out of service"),
    "maintenance.back_in_service": ("工位 {station} 已恢复使用", "{station} back in service"),
    "actor.unknown": ("没有执行单元 {target!r}", "no actor {target!r}"),
    "actor.or_station_unknown": ("没有执行单元或工位 {target!r}", "no actor or station {target!r}"),
    # the server drops a console
    "console.too_slow": ("监控台接收太慢", "too slow to take messages"),
    "console.lagged": ("落后超过 {limit} 条事件：重新连接以获取最新画面",
                       "fell more than {limit} events behind: reconnect for a fresh snapshot"),
    # no session (`error`, then the connection closed)
    "auth.required": ("请先发送 hello 与令牌", "send hello with your token first"),
    "auth.invalid_token": ("令牌无效或已吊销", "unknown or revoked token"),
    "auth.timeout": ("未及时登录", "no hello in time"),
    "auth.throttled": ("登录失败次数过多，请一分钟后再试", "too many failed logins; wait a minute"),
    "auth.revoked": ("令牌已吊销或更换，会话结束", "the token was revoked or rotated; session ended"),
    "console.replaced": ("连接数已满：此空闲会话让位于新会话",
                         "too many sessions: this idle one made way for a new one"),
    "console.pending_full": ("未完成登录的连接过多：此连接被关闭",
                             "too many connections not logged in: this one was closed"),
    "console.closed": ("连接已关闭", "connection closed"),
    # a message that does not decode (`error`; the session goes on); the message has the detail
    "protocol.binary": ("消息须为 JSON 文本，而非二进制帧", "messages are JSON text, not binary frames"),
    "protocol.too_big": ("消息过大", "the message is too big"),
    "protocol.not_json": ("不是 JSON 文本", "not JSON text"),
    "protocol.not_object": ("消息须为 JSON 对象", "a message is a JSON object"),
    "protocol.type": ("未知或此时不能发送的消息类型", "a message type not known, or not now"),
    "protocol.field": ("消息字段缺失或类型不对", "a field missing or of the wrong kind"),
    "protocol.version": ("协议版本不符", "another protocol version"),
    "protocol.unknown_event": ("此监控台不认识的事件类型", "an event type this console does not know"),
    # the console's own answers (it never reached the floor)
    "console.offline": ("未连接，命令未发送", "not connected: command not sent"),
    "console.busy": ("等待发送的命令太多", "busy: too many commands waiting"),
    "console.no_reply": ("现场没有回复", "no reply from the floor"),
}  # fmt: skip


def _braced(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


_REASONS: dict[str, tuple[str, str]] = {
    str(r): (f"{_braced(describe(r, 'zh'))}：{{detail}}", f"{r}: {_braced(describe(r, 'en'))}: {{detail}}")
    for r in Reason
}

CATALOGUE: Mapping[str, tuple[str, str]] = MappingProxyType(_REASONS | _REPLIES)

# An alarm's words are its kind's texts (`domain.alarm_kinds.ALARM_TEXTS`, rendered by
# `domain.alarm_notices.alarm_message`), apart from the codes above: some kinds are reason codes
# too, with other words.


class _Missing:
    """A parameter the template names but the floor did not send: shown, never raised on."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return f"{{{self.name}}}"

    def __repr__(self) -> str:
        return f"{{{self.name}}}"

    def __str__(self) -> str:
        return f"{{{self.name}}}"


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> _Missing:
        return _Missing(key)


_FORMATTER = string.Formatter()


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = "zh") -> str:
    """`code` in words, in `lang` (zh or en). Never fails: an unknown code is shown as itself with
    its parameters, a parameter missing as `{name}` in the text."""
    return _worded(CATALOGUE.get(code), code, params or {}, lang)


def _worded(templates: tuple[str, str] | None, code: str, params: Mapping[str, Any], lang: str) -> str:
    if templates is None:
        return _bare(code, params)
    template = templates[0] if lang == "zh" else templates[1]
    try:
        return _FORMATTER.vformat(template, (), _Params(params))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):  # a newer floor's params
        return _bare(code, params)


def _bare(code: str, params: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{code} ({shown})" if shown else code
