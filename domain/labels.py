"""Label parsing: from what a scanner read to a cylinder code, or a reason code.

docs/domain.md: the code layout is platform-specific, so a label is a plain code or an http(s) URL that
carries it, extracted by a configurable rule, and the code is opaque. docs/scenarios.md: the code is the
URL's `code` query parameter or its last path segment; codes begin with their unit's code, so
another unit's code is refused at once (`label.foreign_unit`). A regex with a `(?P<code>...)` group
replaces that rule. Anything else is `label.unreadable`. `parse_label` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlsplit

from attrs import field, frozen

from domain.reasons import Reason
from domain.setting import limited, not_in_file

__all__ = ["LabelResult", "LabelRule", "parse_label", "safe_text"]

_DEFAULT_CODE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{3,63}"


def _compile(what: str, value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"label {what} is not a valid regular expression: {exc}") from None


def _check_pattern(_instance: object, _attribute: object, value: str | None) -> None:
    if value is not None and "code" not in _compile("pattern", value).groupindex:
        raise ValueError("label pattern needs a (?P<code>...) group")


def _check_code_pattern(_instance: object, _attribute: object, value: str) -> None:
    _compile("code_pattern", value)


def _check_unit_code(_instance: object, _attribute: object, value: str) -> None:
    if not value or not value.isprintable() or value != value.strip():
        raise ValueError(f"label unit_code must be printable text, got {value!r}")


def _check_max_length(_instance: object, _attribute: object, value: int) -> None:
    if value < 1:
        raise ValueError(f"label max_length must be at least 1, got {value}")


_REGEX_WITH_CODE = limited(regex=True, group="code")


@frozen
class LabelRule:
    """How this unit's labels carry a cylinder code."""

    # Own codes begin with it (the file's [unit] code, not a [label] key).
    unit_code: str = field(validator=_check_unit_code, metadata=not_in_file())
    # Replaces the URL rule: a regex with a (?P<code>...) group.
    pattern: str | None = field(default=None, validator=_check_pattern, metadata=_REGEX_WITH_CODE)
    query_param: str = "code"  # the URL query parameter that carries the code
    # Longer: garbage.
    max_length: int = field(default=256, validator=_check_max_length, metadata=limited(lo=8, hi=4096))
    # What a code may be once extracted: letters, digits and `._-`, 4 to 64 characters, starting
    # with a letter or digit. Codes are opaque (docs/domain.md); this only keeps garbage, markup and
    # spaces out of the registry look-up and the screens.
    code_pattern: str = field(
        default=_DEFAULT_CODE_PATTERN, validator=_check_code_pattern, metadata=not_in_file()
    )


@frozen
class LabelResult:
    """`code` when the label was accepted, else `reason`. `raw` is printable, for screens and events."""

    raw: str
    code: str | None
    reason: Reason | None


def safe_text(raw: str | bytes, limit: int = 300) -> str:
    """A printable rendering of device text: control characters escaped, length bounded."""
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else raw
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def looks_like_url(text: str) -> bool:
    """An http(s) URL, as a phone-readable QR label carries (scheme case-insensitive)."""
    return re.match(r"(?i)https?://", text) is not None


def _extract(text: str, rule: LabelRule) -> str | None:
    if rule.pattern is not None:
        m = re.fullmatch(rule.pattern, text)
        return m.group("code") if m else None
    if looks_like_url(text):
        try:
            parts = urlsplit(text)
        except ValueError:
            return None
        values = parse_qs(parts.query).get(rule.query_param)
        if values:
            return values[-1]
        segments = [s for s in parts.path.split("/") if s]
        return unquote(segments[-1]) if segments else None
    return text


def parse_label(raw: str | bytes, rule: LabelRule) -> LabelResult:
    """What a scanner read, as a code or a refusal; never raises.

    Surrounding spaces, tabs and CR/LF are stripped (scanners end lines differently). A code is
    this unit's when it begins with the unit code and goes on beyond it: the unit code alone is
    the unit's, not a cylinder's, so it is unreadable as a cylinder code.
    """
    shown = safe_text(raw)

    def refuse(reason: Reason) -> LabelResult:
        return LabelResult(shown, None, reason)

    if isinstance(raw, bytes):
        if len(raw) > rule.max_length * 4:
            return refuse(Reason.LABEL_UNREADABLE)
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(Reason.LABEL_UNREADABLE)
    text = raw.strip(" \t\r\n")
    if not text or len(text) > rule.max_length or _has_control_chars(text):
        return refuse(Reason.LABEL_UNREADABLE)
    code = _extract(text, rule)
    if code is None or not re.fullmatch(rule.code_pattern, code):
        return refuse(Reason.LABEL_UNREADABLE)
    if not code.startswith(rule.unit_code):
        return LabelResult(shown, code, Reason.LABEL_FOREIGN_UNIT)
    if code == rule.unit_code:
        return refuse(Reason.LABEL_UNREADABLE)
    return LabelResult(shown, code, None)
