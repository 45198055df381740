//! Free slots, computed: weekly hours in the trainer's time zone, plus extra hours,
//! minus days off, intersected with the room's hours, minus what is booked (with the
//! trainer's buffers), within the per-day and per-week limits. Pure: no I/O, no clock.
//!
//! Local times become instants in the zone of their rules. A local time that occurs
//! twice (the hour clocks repeat when daylight time ends) opens at its first occurrence
//! and closes at its second, so the whole local span is available; a local time that
//! does not exist (the hour skipped when daylight time starts) is read with the offset
//! before the change, i.e. as the instant the clock would show had it not jumped.
//! Slots step through real time from the opening instant, so a day of 4 local hours has
//! 3 real hours of slots in spring and 5 in autumn.

use std::collections::HashMap;

use chrono::{
    DateTime, Datelike, Duration, IsoWeek, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// Local hours on an ISO weekday (1 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub weekday: u8,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    Off,
    Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub date: NaiveDate,
    pub kind: ExceptionKind,
    /// Absent: the whole day (only for `Off`).
    pub times: Option<(NaiveTime, NaiveTime)>,
}

/// A weekly timetable in a time zone, with its date exceptions.
#[derive(Debug, Clone)]
pub struct Timetable {
    pub tz: Tz,
    pub weekly: Vec<Hours>,
    pub exceptions: Vec<Exception>,
}

/// A half-open span of real time.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// The instant a local time on a date stands for, as an opening or a closing time.
pub fn instant(tz: Tz, date: NaiveDate, time: NaiveTime, closing: bool) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => {
            if closing { second } else { first }.with_timezone(&Utc)
        }
        LocalResult::None => {
            // In a gap: the offset in force just before it (gaps last at most 2 h).
            let before = (1..=3).find_map(|h| {
                tz.from_local_datetime(&(local - Duration::hours(h)))
                    .latest()
            });
            match before {
                Some(t) => {
                    let offset = t.naive_local() - t.naive_utc();
                    (local - offset).and_utc()
                }
                None => local.and_utc(),
            }
        }
    }
}

impl Timetable {
    /// The open spans of a local date, in real time, sorted and merged.
    pub fn open_on(&self, date: NaiveDate) -> Vec<Span> {
        let weekday = date.weekday().number_from_monday() as u8;
        let to_span = |(starts, ends): (NaiveTime, NaiveTime)| {
            (
                instant(self.tz, date, starts, false),
                instant(self.tz, date, ends, true),
            )
        };
        let mut open: Vec<Span> = self
            .weekly
            .iter()
            .filter(|h| h.weekday == weekday)
            .map(|h| to_span((h.starts, h.ends)))
            .chain(
                self.exceptions
                    .iter()
                    .filter(|e| e.date == date && e.kind == ExceptionKind::Extra)
                    .filter_map(|e| e.times.map(to_span)),
            )
            .collect();
        open = merge(open);
        for off in self
            .exceptions
            .iter()
            .filter(|e| e.date == date && e.kind == ExceptionKind::Off)
        {
            match off.times {
                None => return Vec::new(),
                Some(times) => open = subtract(&open, to_span(times)),
            }
        }
        open
    }

    /// The open spans over every local date that can touch `span` (a day either side).
    pub fn open_during(&self, span: Span) -> Vec<Span> {
        let first = span.0.with_timezone(&self.tz).date_naive() - Duration::days(1);
        let last = span.1.with_timezone(&self.tz).date_naive() + Duration::days(1);
        let mut out = Vec::new();
        let mut d = first;
        while d <= last {
            out.extend(self.open_on(d));
            d += Duration::days(1);
        }
        merge(out)
    }
}

fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.0 < s.1);
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.0 <= last.1 => last.1 = last.1.max(s.1),
            _ => out.push(s),
        }
    }
    out
}

fn subtract(spans: &[Span], cut: Span) -> Vec<Span> {
    let mut out = Vec::new();
    for &(a, b) in spans {
        if cut.1 <= a || cut.0 >= b {
            out.push((a, b));
            continue;
        }
        if a < cut.0 {
            out.push((a, cut.0));
        }
        if cut.1 < b {
            out.push((cut.1, b));
        }
    }
    out
}

fn overlaps(a: Span, b: Span) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn contained(span: Span, open: &[Span]) -> bool {
    open.iter().any(|o| o.0 <= span.0 && span.1 <= o.1)
}

/// What a slot query needs besides the trainer's timetable.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    pub duration: Duration,
    pub step: Duration,
    pub buffer_before: Duration,
    pub buffer_after: Duration,
    pub max_per_day: Option<u32>,
    pub max_per_week: Option<u32>,
    /// The trainer's scheduled sessions: (start, blocked span with buffers).
    pub trainer_busy: Vec<(DateTime<Utc>, Span)>,
    /// The room's hours and its scheduled sessions, when the session type has a room.
    pub room: Option<(Timetable, Vec<Span>)>,
}

/// The free slot starts over the trainer's local dates `from..=to`, in time order.
/// (Minimum notice and horizon depend on the clock; the caller applies them.)
pub fn free_slots(
    trainer: &Timetable,
    c: &Constraints,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let tz = trainer.tz;
    let mut per_day: HashMap<NaiveDate, u32> = HashMap::new();
    let mut per_week: HashMap<IsoWeek, u32> = HashMap::new();
    for (start, _) in &c.trainer_busy {
        let day = start.with_timezone(&tz).date_naive();
        *per_day.entry(day).or_default() += 1;
        *per_week.entry(day.iso_week()).or_default() += 1;
    }
    let room_open = c.room.as_ref().map(|(hours, _)| {
        let first = instant(tz, from, NaiveTime::MIN, false);
        let last = instant(tz, to + Duration::days(1), NaiveTime::MIN, false);
        hours.open_during((first, last))
    });
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        let full_day = c
            .max_per_day
            .is_some_and(|m| per_day.get(&date).copied().unwrap_or(0) >= m);
        let full_week = c
            .max_per_week
            .is_some_and(|m| per_week.get(&date.iso_week()).copied().unwrap_or(0) >= m);
        if !full_day && !full_week && c.step > Duration::zero() {
            for (open_from, open_to) in trainer.open_on(date) {
                let mut s = open_from;
                while s + c.duration <= open_to {
                    let span = (s, s + c.duration);
                    let blocked = (s - c.buffer_before, span.1 + c.buffer_after);
                    let trainer_free = c.trainer_busy.iter().all(|(_, b)| !overlaps(*b, blocked));
                    let room_ok = match (&c.room, &room_open) {
                        (Some((_, busy)), Some(open)) => {
                            contained(span, open) && busy.iter().all(|b| !overlaps(*b, span))
                        }
                        _ => true,
                    };
                    if trainer_free && room_ok {
                        out.push(s);
                    }
                    s += c.step;
                }
            }
        }
        date += Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn every_day(tz: Tz, starts: NaiveTime, ends: NaiveTime) -> Timetable {
        Timetable {
            tz,
            weekly: (1..=7)
                .map(|weekday| Hours {
                    weekday,
                    starts,
                    ends,
                })
                .collect(),
            exceptions: vec![],
        }
    }

    fn hourly() -> Constraints {
        Constraints {
            duration: Duration::hours(1),
            step: Duration::hours(1),
            ..Constraints::default()
        }
    }

    fn local(tz: Tz, slots: &[DateTime<Utc>]) -> Vec<String> {
        slots
            .iter()
            .map(|s| s.with_timezone(&tz).format("%H:%M%:z").to_string())
            .collect()
    }

    // Berlin, 28 March 2027: 02:00 CET becomes 03:00 CEST (the hour 02:xx never happens).
    #[test]
    fn the_skipped_hour_in_spring_is_not_offered_in_berlin() {
        let tz = chrono_tz::Europe::Berlin;
        let slots = free_slots(
            &every_day(tz, t(1, 0), t(5, 0)),
            &hourly(),
            d(2027, 3, 28),
            d(2027, 3, 28),
        );
        assert_eq!(
            local(tz, &slots),
            ["01:00+01:00", "03:00+02:00", "04:00+02:00"]
        );
    }

    // Berlin, 31 October 2027: 03:00 CEST becomes 02:00 CET (02:xx happens twice).
    #[test]
    fn the_repeated_hour_in_autumn_is_offered_twice_in_berlin() {
        let tz = chrono_tz::Europe::Berlin;
        let slots = free_slots(
            &every_day(tz, t(1, 0), t(5, 0)),
            &hourly(),
            d(2027, 10, 31),
            d(2027, 10, 31),
        );
        assert_eq!(
            local(tz, &slots),
            [
                "01:00+02:00",
                "02:00+02:00",
                "02:00+01:00",
                "03:00+01:00",
                "04:00+01:00"
            ]
        );
    }

    // An opening time inside the skipped hour is read with the offset before the change:
    // 02:30 (CET, which never shows on the clock) is 03:30 CEST.
    #[test]
    fn an_opening_in_the_skipped_hour_opens_as_if_the_clock_had_not_jumped() {
        let tz = chrono_tz::Europe::Berlin;
        let slots = free_slots(
            &every_day(tz, t(2, 30), t(5, 0)),
            &hourly(),
            d(2027, 3, 28),
            d(2027, 3, 28),
        );
        assert_eq!(local(tz, &slots), ["03:30+02:00"]);
    }

    // Sydney (southern hemisphere): 3 October 2027 02:00 AEST becomes 03:00 AEDT;
    // 4 April 2027 03:00 AEDT becomes 02:00 AEST.
    #[test]
    fn both_changes_in_sydney() {
        let tz = chrono_tz::Australia::Sydney;
        let table = every_day(tz, t(1, 0), t(5, 0));
        let spring = free_slots(&table, &hourly(), d(2027, 10, 3), d(2027, 10, 3));
        assert_eq!(
            local(tz, &spring),
            ["01:00+10:00", "03:00+11:00", "04:00+11:00"]
        );
        let autumn = free_slots(&table, &hourly(), d(2027, 4, 4), d(2027, 4, 4));
        assert_eq!(
            local(tz, &autumn),
            [
                "01:00+11:00",
                "02:00+11:00",
                "02:00+10:00",
                "03:00+10:00",
                "04:00+10:00"
            ]
        );
    }

    #[test]
    fn office_hours_stay_at_nine_local_across_the_change() {
        let tz = chrono_tz::America::New_York;
        // 14 March 2027: clocks go forward in New York.
        let slots = free_slots(
            &every_day(tz, t(9, 0), t(10, 0)),
            &hourly(),
            d(2027, 3, 13),
            d(2027, 3, 15),
        );
        let utc: Vec<String> = slots
            .iter()
            .map(|s| s.format("%d %H:%M").to_string())
            .collect();
        assert_eq!(utc, ["13 14:00", "14 13:00", "15 13:00"]);
    }

    #[test]
    fn days_off_extra_hours_buffers_and_limits() {
        let tz = chrono_tz::UTC;
        let mut table = every_day(tz, t(9, 0), t(12, 0));
        table.exceptions = vec![
            Exception {
                date: d(2027, 1, 5),
                kind: ExceptionKind::Off,
                times: None,
            },
            Exception {
                date: d(2027, 1, 6),
                kind: ExceptionKind::Off,
                times: Some((t(10, 0), t(11, 0))),
            },
            Exception {
                date: d(2027, 1, 7),
                kind: ExceptionKind::Extra,
                times: Some((t(18, 0), t(19, 0))),
            },
        ];
        let at = |day: u32, h: u32| d(2027, 1, day).and_time(t(h, 0)).and_utc();
        let c = hourly();
        assert!(free_slots(&table, &c, d(2027, 1, 5), d(2027, 1, 5)).is_empty());
        assert_eq!(
            free_slots(&table, &c, d(2027, 1, 6), d(2027, 1, 6)),
            [at(6, 9), at(6, 11)]
        );
        assert_eq!(
            free_slots(&table, &c, d(2027, 1, 7), d(2027, 1, 7)),
            [at(7, 9), at(7, 10), at(7, 11), at(7, 18)]
        );
        // A session 10:00-11:00 with a 30-minute buffer after blocks 11:00 too; one
        // before blocks 9:00.
        let busy = |h: u32| (at(8, h), (at(8, h), at(8, h + 1) + Duration::minutes(30)));
        let with_buffers = Constraints {
            buffer_before: Duration::minutes(15),
            buffer_after: Duration::minutes(30),
            trainer_busy: vec![busy(10)],
            ..hourly()
        };
        assert!(free_slots(&table, &with_buffers, d(2027, 1, 8), d(2027, 1, 8)).is_empty());
        // One session a day at most: the day with one has none left, the next day is open.
        let limited = Constraints {
            max_per_day: Some(1),
            trainer_busy: vec![busy(10)],
            ..hourly()
        };
        assert!(free_slots(&table, &limited, d(2027, 1, 8), d(2027, 1, 8)).is_empty());
        assert_eq!(
            free_slots(&table, &limited, d(2027, 1, 9), d(2027, 1, 9)).len(),
            3
        );
        // One a week (ISO week 4-10 January 2027): none left that week, the next is open.
        let weekly = Constraints {
            max_per_week: Some(1),
            trainer_busy: vec![busy(10)],
            ..hourly()
        };
        assert!(free_slots(&table, &weekly, d(2027, 1, 9), d(2027, 1, 10)).is_empty());
        assert_eq!(
            free_slots(&table, &weekly, d(2027, 1, 11), d(2027, 1, 11)).len(),
            3
        );
    }

    #[test]
    fn a_room_narrows_the_hours_and_its_bookings_take_slots() {
        let tz = chrono_tz::UTC;
        let trainer = every_day(tz, t(8, 0), t(12, 0));
        let room = every_day(chrono_tz::Europe::London, t(9, 0), t(11, 0));
        let at = |h: u32| d(2027, 1, 4).and_time(t(h, 0)).and_utc();
        let c = Constraints {
            room: Some((room, vec![(at(9), at(10))])),
            ..hourly()
        };
        assert_eq!(
            free_slots(&trainer, &c, d(2027, 1, 4), d(2027, 1, 4)),
            [at(10)]
        );
    }
}
