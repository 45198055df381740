"""Parses an iCalendar feed (stdin) with the `icalendar` library and prints its events as
JSON, start and end converted to UTC with the feed's own VTIMEZONE definitions (not the
names' IANA rules), so that the test checks what FitSync wrote. Any parse error fails."""
import json
import sys
from datetime import timezone

import icalendar

cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
zones = {}
for vtz in cal.walk("VTIMEZONE"):
    zones[str(vtz["TZID"])] = vtz.to_tz(lookup_tzid=False)


def to_utc(prop):
    tzid = prop.params.get("TZID")
    value = prop.dt
    if tzid is None:
        return value.astimezone(timezone.utc).isoformat()
    zone = zones[tzid]
    naive = value.replace(tzinfo=None)
    aware = zone.localize(naive) if hasattr(zone, "localize") else naive.replace(tzinfo=zone)
    return aware.astimezone(timezone.utc).isoformat()


events = []
for ev in cal.walk("VEVENT"):
    events.append(
        {
            "uid": str(ev["UID"]),
            "status": str(ev.get("STATUS", "")),
            "sequence": int(ev.get("SEQUENCE", 0)),
            "summary": str(ev.get("SUMMARY", "")),
            "tzid": ev["DTSTART"].params.get("TZID"),
            "start": to_utc(ev["DTSTART"]),
            "end": to_utc(ev["DTEND"]),
        }
    )
print(json.dumps({"version": str(cal["VERSION"]), "timezones": sorted(zones), "events": events}))
