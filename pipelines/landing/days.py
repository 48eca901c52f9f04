"""The business day of an event: the supplier's local day (site time zone) of the time
the event is about, stamped on every landing row as `business_day`.

Views key their rows by that day, so it is fixed once, at landing, in Python's zoneinfo,
and both databases group by the same stored date (SQLite has no time zones).
"""

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.topics import EventType

DEFAULT_TIMEZONE = "Asia/Seoul"

# The time each event type's views count it on (the "business time").
BUSINESS_TIME: dict[EventType, str] = {
    EventType.PRODUCTION: "end_time",
    EventType.QUALITY: "event_time",
    EventType.MACHINE_STATUS: "event_time",
    EventType.SHIPMENT: "shipped_at",
    EventType.ENERGY: "period_end",
}


@cache
def zone(name: str) -> ZoneInfo:
    """The time zone `name`; Asia/Seoul when this machine's tz database lacks it.

    Reference data is checked when loaded (governance/reference.py), so a bad name only
    reaches here from a database written otherwise; falling back keeps one site's typo
    from raising inside a landing transaction and stopping every supplier's ingest.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_day(when: datetime, timezone: str) -> date:
    """The calendar day of `when` (aware) in `timezone`."""
    return when.astimezone(zone(timezone)).date()


class LocalDays:
    """Business days from the sites' time zones (`"<supplier>/<site>" -> zone name`)."""

    def __init__(
        self, site_timezones: Mapping[str, str], supplier_timezones: Mapping[str, str]
    ) -> None:
        self.sites, self.suppliers = dict(site_timezones), dict(supplier_timezones)

    def timezone(self, supplier_id: str, site_id: str | None = None) -> str:
        """The site's zone, else the supplier's, else Asia/Seoul."""
        if site_id is not None and (zone := self.sites.get(f"{supplier_id}/{site_id}")):
            return zone
        return self.suppliers.get(supplier_id, DEFAULT_TIMEZONE)

    def business_day(self, event_type: EventType, payload: Mapping[str, Any]) -> date:
        """The local day of `payload`'s business time at its site."""
        when = payload.get(BUSINESS_TIME[event_type]) or payload["event_time"]
        return self.business_day_at(when, payload["supplier_id"], payload.get("site_id"))

    def business_day_at(self, when: datetime, supplier_id: str, site_id: str | None) -> date:
        """The local day of `when` at the site."""
        return local_day(when, self.timezone(supplier_id, site_id))

    def received_day(self, supplier_id: str, timestamp_ms: int) -> date:
        """The supplier's local day of a Kafka timestamp (for quarantined records)."""
        when = datetime.fromtimestamp(timestamp_ms / 1000, zone(self.timezone(supplier_id)))
        return when.date()
