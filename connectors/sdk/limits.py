"""What the platform can carry, as the edge checks it: time windows, record size, JSON depth.

`EdgeLimits` holds the settings (`SANGSAENG_EVENT_TIME_MIN`,
`SANGSAENG_EVENT_TIME_MAX_YEARS_AHEAD`, `SANGSAENG_EVENT_HORIZON_DAYS`,
`SANGSAENG_EVENT_FUTURE_SECONDS`, `SANGSAENG_TOPIC_MAX_MESSAGE_BYTES`); `Window` is
their bounds at one moment, in the forms the contract walker (`connectors.sdk.coerce`)
compares with. `parse_json` reads the JSON of events (a gateway body, a line of an
export) after `json_nesting` has told that it nests no deeper than an event can:
Python's parser recurses, and a deep enough body raises `RecursionError` instead of a
parse error.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sangsaeng.settings import Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()
# Room left, below a topic's max.message.bytes, for what Kafka adds to a record: the
# batch header (61 bytes), the record's own varints and the event id header.
RECORD_OVERHEAD = 1024


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


def _years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class EdgeLimits:
    """The limits the edge applies to every event (defaults: the settings' defaults)."""

    earliest: date = field(default_factory=lambda: _default("event_time_min"))
    years_ahead: int = field(default_factory=lambda: _default("event_time_max_years_ahead"))
    horizon_days: float = field(default_factory=lambda: _default("event_horizon_days"))
    future_seconds: float = field(default_factory=lambda: _default("event_future_seconds"))
    max_message_bytes: int = field(default_factory=lambda: _default("topic_max_message_bytes"))

    @classmethod
    def from_settings(cls, settings: Settings) -> "EdgeLimits":
        """The limits the platform's settings give."""
        return cls(
            earliest=settings.event_time_min,
            years_ahead=settings.event_time_max_years_ahead,
            horizon_days=settings.event_horizon_days,
            future_seconds=settings.event_future_seconds,
            max_message_bytes=settings.topic_max_message_bytes,
        )

    @property
    def record_bytes(self) -> int:
        """Most bytes one record (frame, Avro body and key) may take on a supplier topic."""
        return self.max_message_bytes - RECORD_OVERHEAD

    def window(self, now: datetime) -> "Window":
        """The bounds at `now` (an aware datetime)."""
        lo = datetime(self.earliest.year, self.earliest.month, self.earliest.day, tzinfo=UTC)
        hi = _years_after(now.astimezone(UTC), self.years_ahead)
        ev_lo = max(lo, now - timedelta(days=self.horizon_days))
        ev_hi = min(hi, now + timedelta(seconds=self.future_seconds))
        return Window(
            limits=self,
            now=now,
            lo_dt=lo,
            hi_dt=hi,
            lo_ms=_ms(lo),
            hi_ms=_ms(hi),
            lo_date=lo.date(),
            hi_date=hi.date(),
            lo_days=lo.date().toordinal() - EPOCH_ORDINAL,
            hi_days=hi.date().toordinal() - EPOCH_ORDINAL,
            ev_lo_dt=ev_lo,
            ev_hi_dt=ev_hi,
            ev_lo_ms=_ms(ev_lo),
            ev_hi_ms=_ms(ev_hi),
        )


@dataclass(frozen=True, slots=True)
class Window:
    """Where timestamps and dates may lie at one moment: every field between `lo` and
    `hi`; `event_time` also within the horizon and the allowed lead (`ev_lo`, `ev_hi`)."""

    limits: EdgeLimits
    now: datetime
    lo_dt: datetime
    hi_dt: datetime
    lo_ms: int
    hi_ms: int
    lo_date: date
    hi_date: date
    lo_days: int
    hi_days: int
    ev_lo_dt: datetime
    ev_hi_dt: datetime
    ev_lo_ms: int
    ev_hi_ms: int


def when(moment: datetime | int) -> str:
    """A timestamp (aware datetime or epoch ms) as ISO-8601 UTC, for messages."""
    if isinstance(moment, int):
        try:
            return when(EPOCH + timedelta(milliseconds=moment)) + f" ({moment} ms)"
        except OverflowError:
            return f"{moment} ms after 1970"
    try:
        text = moment.astimezone(UTC).isoformat() if moment.utcoffset() else moment.isoformat()
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00, after year 9999 in UTC
        text = moment.isoformat()
    return text.replace("+00:00", "Z")


def too_large(size: int, limits: EdgeLimits, record: dict[str, Any]) -> tuple[str | None, str]:
    """(field, reason) for a record of `size` bytes over `limits.record_bytes`, naming the
    field that takes the most room."""
    sizes = {name: _rough_size(value) for name, value in record.items()}
    biggest = max(sizes, key=sizes.__getitem__, default=None)
    reason = (
        f"the event encodes to {size:,} bytes, over the {limits.record_bytes:,} a record may "
        f"take on its topic (SANGSAENG_TOPIC_MAX_MESSAGE_BYTES={limits.max_message_bytes:,}, "
        f"less {RECORD_OVERHEAD:,} for Kafka's record overhead)"
    )
    if biggest is not None:
        reason += f": {biggest} takes about {sizes[biggest]:,} bytes; shorten it or split the event"
    return biggest, reason


def _rough_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, list | tuple | dict):
        try:
            return len(json.dumps(value, default=str))
        except (TypeError, ValueError):
            return len(value)
    return 8


# -- JSON nesting, checked before parsing --------------------------------------------

TOO_DEEP = "too deep"
UNBALANCED = "unbalanced"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_nesting(body: bytes, limit: int) -> str | None:
    """Why `body` must not reach `json.loads`: `TOO_DEEP`, `UNBALANCED`, or None.

    Arrays and objects (outside strings) may nest `limit` deep. A body whose brackets
    do not balance is no JSON, and parsing it can recurse just as deep. Costs a few
    passes over the body at C speed, however deep or long it is.
    """
    try:
        encoding = json.detect_encoding(body)
        if encoding != "utf-8":  # UTF-16/32 JSON: scan it as UTF-8
            body = body.decode(encoding).encode("utf-8", "surrogatepass")
    except (UnicodeDecodeError, LookupError):
        return None  # not text: the parser says so, without recursing
    outside = b"".join(body.split(b'"')[::2]) if b"\\" not in body else _STRING.sub(b"", body)
    brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
    depth = 0
    while brackets:
        shorter = brackets.replace(b"[]", b"")  # the innermost level, everywhere at once
        if len(shorter) == len(brackets):
            return UNBALANCED
        depth += 1
        if depth > limit:
            return TOO_DEEP
        brackets = shorter
    return None


class NotEventJSON(ValueError):
    """Text that is not JSON, or nests deeper than any event (`too_deep`)."""

    def __init__(self, message: str, *, too_deep: bool = False) -> None:
        super().__init__(message)
        self.too_deep = too_deep


def parse_json(text: bytes | str, limit: int) -> Any:
    """The JSON value of `text`, whose arrays and objects may nest `limit` deep.

    Raises `NotEventJSON` ("not JSON: ..." or "nested more than ... deep"), never
    `RecursionError`, however deep the text.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    problem = json_nesting(data, limit)
    if problem == TOO_DEEP:
        raise NotEventJSON(
            f"nested more than {limit} deep, deeper than any event can be", too_deep=True
        )
    if problem == UNBALANCED:
        raise NotEventJSON("not JSON: its brackets do not balance")
    try:
        return json.loads(text)
    except ValueError as exc:  # a decode error, bad UTF-8, or an integer of 5,000 digits
        raise NotEventJSON(f"not JSON: {exc}") from None
    except RecursionError:  # json_nesting should have said so
        raise NotEventJSON(f"nested more than {limit} deep", too_deep=True) from None
