//! A program template's content — weeks → days → exercise slots — as trainers write it,
//! checked whole (every error reported at once, with its path), and the pure rules that
//! turn it into dated workouts and next loads.

use chrono::NaiveDate;
use fitsync_platform::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// At most this many slots in one program (all weeks): a program is one event-sized
/// document, and no real block has more.
pub const MAX_SLOTS: usize = 2000;

/// A program: what every week, day and slot prescribes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramDocument {
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\\x00]*[A-Za-z0-9][^\\x00]*$"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4000, pattern = "^[^\\x00]*$")]
    pub description: Option<String>,
    /// Week 1 starts on the assignment's start date; week n, 7·(n − 1) days later.
    #[schema(min_items = 1, max_items = 52)]
    pub weeks: Vec<Week>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Week {
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<Day>,
}

/// One training day of a week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Day {
    /// Days after the week's first day (0–6); unique within the week.
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    #[schema(minimum = 0, maximum = 6)]
    pub offset: i64,
    #[schema(
        min_length = 1,
        max_length = 80,
        pattern = "^[^\\x00]*[A-Za-z0-9][^\\x00]*$"
    )]
    pub name: String,
    #[schema(min_items = 1, max_items = 30)]
    pub slots: Vec<Slot>,
}

/// One exercise of a day: what to do, how heavy, and how the load moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// A library exercise by slug or alias (saved as its slug).
    #[schema(
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 64,
        example = "barbell-squat"
    )]
    pub exercise: String,
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    #[schema(minimum = 1, maximum = 20)]
    pub sets: i64,
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    #[schema(minimum = 1, maximum = 100)]
    pub reps_min: i64,
    /// At least `reps_min`.
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    #[schema(minimum = 1, maximum = 100)]
    pub reps_max: i64,
    pub load: Load,
    #[serde(
        default,
        deserialize_with = "fitsync_platform::problem::integer::optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 1800)]
    pub rest_secs: Option<i64>,
    /// Eccentric, pause, concentric, pause in seconds (`X`: explosive), e.g. `3010`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9X]{4}$")]
    pub tempo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    pub notes: Option<String>,
    /// Slots of a day with the same letter are done as a superset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Z]$")]
    pub superset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progression: Option<Progression>,
}

/// How heavy: kilograms, a share of the client's e1RM, or an effort target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Load {
    Absolute {
        #[schema(minimum = 0, maximum = 1000)]
        kg: f64,
    },
    PercentE1rm {
        #[schema(minimum = 1, maximum = 120)]
        percent: f64,
    },
    /// Reps in reserve at the end of each set.
    Rir {
        #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
        #[schema(minimum = 0, maximum = 10)]
        rir: i64,
    },
    Rpe {
        #[schema(minimum = 5, maximum = 10)]
        rpe: f64,
    },
}

/// Double progression on an absolute load: when every prescribed set reached the top of
/// the rep range (at or above `target_rir` in reserve, if given), add `increment_kg`;
/// after `deload_after_failures` sessions in a row that fell short (a missed session
/// counts), take `deload_percent` off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Progression {
    #[schema(minimum = 0, maximum = 50)]
    pub increment_kg: f64,
    #[schema(minimum = 0, maximum = 50)]
    pub deload_percent: f64,
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    #[schema(minimum = 1, maximum = 10)]
    pub deload_after_failures: i64,
    #[serde(
        default,
        deserialize_with = "fitsync_platform::problem::integer::optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 10)]
    pub target_rir: Option<i64>,
}

fn text_ok(text: &str, max: usize) -> bool {
    let t = text.trim();
    !t.is_empty()
        && t.chars().count() <= max
        && !t.contains('\0')
        && t.chars().any(|c| c.is_ascii_alphanumeric())
}

fn in_range(v: f64, lo: f64, hi: f64) -> bool {
    v.is_finite() && (lo..=hi).contains(&v)
}

impl ProgramDocument {
    /// Every rule the schema states and those it cannot (ranges between fields, unique
    /// days, the size cap), each failure with its path.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, message: &str| {
            errors.push(FieldError {
                field,
                message: message.to_owned(),
            })
        };
        if !text_ok(&self.name, 120) {
            fail(
                "name".into(),
                "1 to 120 characters with a letter or digit, no NUL",
            );
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 4000 || d.contains('\0'))
        {
            fail("description".into(), "at most 4000 characters, no NUL");
        }
        if self.weeks.is_empty() || self.weeks.len() > 52 {
            fail("weeks".into(), "1 to 52 weeks");
        }
        let slots: usize = self
            .weeks
            .iter()
            .flat_map(|w| &w.days)
            .map(|d| d.slots.len())
            .sum();
        if slots > MAX_SLOTS {
            fail("weeks".into(), "at most 2000 slots in all");
        }
        for (w, week) in self.weeks.iter().enumerate() {
            if week.days.is_empty() || week.days.len() > 7 {
                fail(format!("weeks[{w}].days"), "1 to 7 days");
            }
            let mut offsets = std::collections::HashSet::new();
            for (d, day) in week.days.iter().enumerate() {
                let at = format!("weeks[{w}].days[{d}]");
                if !(0..=6).contains(&day.offset) {
                    fail(format!("{at}.offset"), "between 0 and 6");
                } else if !offsets.insert(day.offset) {
                    fail(format!("{at}.offset"), "another day of the week has it");
                }
                if !text_ok(&day.name, 80) {
                    fail(
                        format!("{at}.name"),
                        "1 to 80 characters with a letter or digit",
                    );
                }
                if day.slots.is_empty() || day.slots.len() > 30 {
                    fail(format!("{at}.slots"), "1 to 30 slots");
                }
                for (s, slot) in day.slots.iter().enumerate() {
                    for (field, message) in slot.check() {
                        fail(format!("{at}.slots[{s}].{field}"), message);
                    }
                }
            }
        }
        errors
    }

    /// The slots, with their place, in order.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = (String, &mut Slot)> {
        self.weeks.iter_mut().enumerate().flat_map(|(w, week)| {
            week.days.iter_mut().enumerate().flat_map(move |(d, day)| {
                day.slots
                    .iter_mut()
                    .enumerate()
                    .map(move |(s, slot)| (format!("weeks[{w}].days[{d}].slots[{s}]"), slot))
            })
        })
    }

    pub fn slot_count(&self) -> usize {
        self.weeks
            .iter()
            .flat_map(|w| &w.days)
            .map(|d| d.slots.len())
            .sum()
    }
}

impl Slot {
    fn check(&self) -> Vec<(&'static str, &'static str)> {
        let mut errors = Vec::new();
        if !(1..=20).contains(&self.sets) {
            errors.push(("sets", "between 1 and 20"));
        }
        if !(1..=100).contains(&self.reps_min) {
            errors.push(("reps_min", "between 1 and 100"));
        }
        if !(1..=100).contains(&self.reps_max) || self.reps_max < self.reps_min {
            errors.push(("reps_max", "between reps_min and 100"));
        }
        match &self.load {
            Load::Absolute { kg } if !in_range(*kg, 0.0, 1000.0) => {
                errors.push(("load.kg", "between 0 and 1000"))
            }
            Load::PercentE1rm { percent } if !in_range(*percent, 1.0, 120.0) => {
                errors.push(("load.percent", "between 1 and 120"))
            }
            Load::Rir { rir } if !(0..=10).contains(rir) => {
                errors.push(("load.rir", "between 0 and 10"))
            }
            Load::Rpe { rpe } if !in_range(*rpe, 5.0, 10.0) => {
                errors.push(("load.rpe", "between 5 and 10"))
            }
            _ => {}
        }
        if self.rest_secs.is_some_and(|r| !(0..=1800).contains(&r)) {
            errors.push(("rest_secs", "between 0 and 1800"));
        }
        if self
            .tempo
            .as_ref()
            .is_some_and(|t| t.len() != 4 || !t.bytes().all(|b| b.is_ascii_digit() || b == b'X'))
        {
            errors.push(("tempo", "four digits or X, e.g. 3010"));
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 500 || n.contains('\0'))
        {
            errors.push(("notes", "at most 500 characters, no NUL"));
        }
        if self
            .superset
            .as_ref()
            .is_some_and(|s| s.len() != 1 || !s.bytes().all(|b| b.is_ascii_uppercase()))
        {
            errors.push(("superset", "one capital letter"));
        }
        if let Some(p) = &self.progression {
            if !matches!(self.load, Load::Absolute { .. }) {
                errors.push(("progression", "only for an absolute load"));
            }
            if !in_range(p.increment_kg, 0.0, 50.0) {
                errors.push(("progression.increment_kg", "between 0 and 50"));
            }
            if !in_range(p.deload_percent, 0.0, 50.0) {
                errors.push(("progression.deload_percent", "between 0 and 50"));
            }
            if !(1..=10).contains(&p.deload_after_failures) {
                errors.push(("progression.deload_after_failures", "between 1 and 10"));
            }
            if p.target_rir.is_some_and(|r| !(0..=10).contains(&r)) {
                errors.push(("progression.target_rir", "between 0 and 10"));
            }
        }
        errors
    }
}

/// The local date of each day of the program started on `start` (a date in the client's
/// time zone): week w (0-based), day offset o → start + 7w + o. Calendar arithmetic on
/// dates, so daylight-saving changes cannot move a workout to another day.
pub fn planned_dates(doc: &ProgramDocument, start: NaiveDate) -> Vec<(usize, usize, NaiveDate)> {
    let mut out = Vec::new();
    for (w, week) in doc.weeks.iter().enumerate() {
        for (d, day) in week.days.iter().enumerate() {
            let days = 7 * w as u64 + u64::try_from(day.offset).unwrap_or(0);
            if let Some(date) = start.checked_add_days(chrono::Days::new(days)) {
                out.push((w, d, date));
            }
        }
    }
    out.sort_by_key(|(_, _, date)| *date);
    out
}

/// One set as logged, for judging a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoneSet {
    pub reps: i64,
    pub kg: f64,
    pub rir: Option<i64>,
}

/// A session met the slot if it has at least the prescribed sets at the prescribed load
/// or more, each reaching the top of the rep range with at least the target reps in
/// reserve (if one is set).
pub fn session_met(slot: &Slot, rule: &Progression, load_kg: f64, sets: &[DoneSet]) -> bool {
    let good = sets
        .iter()
        .filter(|s| {
            s.kg + 1e-9 >= load_kg
                && s.reps >= slot.reps_max
                && rule
                    .target_rir
                    .is_none_or(|target| s.rir.is_some_and(|rir| rir >= target))
        })
        .count();
    good as i64 >= slot.sets
}

/// The load of the next session: `start_kg`, moved by each past session of the slot in
/// order (`None`: the session was missed). Rounded to 0.25 kg, never below 0.
pub fn next_load(
    start_kg: f64,
    slot: &Slot,
    rule: &Progression,
    past: &[Option<Vec<DoneSet>>],
) -> f64 {
    let mut load = start_kg;
    let mut failures = 0;
    for session in past {
        let met = session
            .as_ref()
            .is_some_and(|sets| session_met(slot, rule, load, sets));
        if met {
            load += rule.increment_kg;
            failures = 0;
        } else {
            failures += 1;
            if failures >= rule.deload_after_failures {
                load *= 1.0 - rule.deload_percent / 100.0;
                failures = 0;
            }
        }
        load = ((load * 4.0).round() / 4.0).max(0.0);
    }
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(progression: Option<Progression>) -> Slot {
        Slot {
            exercise: "barbell-squat".into(),
            sets: 3,
            reps_min: 5,
            reps_max: 8,
            load: Load::Absolute { kg: 100.0 },
            rest_secs: Some(180),
            tempo: Some("30X0".into()),
            notes: None,
            superset: None,
            progression,
        }
    }

    fn rule() -> Progression {
        Progression {
            increment_kg: 2.5,
            deload_percent: 10.0,
            deload_after_failures: 2,
            target_rir: Some(1),
        }
    }

    fn doc(weeks: Vec<Week>) -> ProgramDocument {
        ProgramDocument {
            name: "Strength".into(),
            description: None,
            weeks,
        }
    }

    #[test]
    fn a_document_reports_every_error_with_its_path() {
        let mut bad = slot(Some(rule()));
        bad.reps_max = 3;
        bad.tempo = Some("fast".into());
        bad.load = Load::Rir { rir: 2 };
        let day = |offset, slots| Day {
            offset,
            name: "A".into(),
            slots,
        };
        let errors = doc(vec![Week {
            days: vec![
                day(0, vec![slot(None), bad]),
                day(0, vec![slot(None)]),
                day(9, vec![]),
            ],
        }])
        .check();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "weeks[0].days[0].slots[1].reps_max",
                "weeks[0].days[0].slots[1].tempo",
                "weeks[0].days[0].slots[1].progression",
                "weeks[0].days[1].offset",
                "weeks[0].days[2].offset",
                "weeks[0].days[2].slots",
            ]
        );
        assert!(doc(vec![Week {
            days: vec![day(2, vec![slot(Some(rule()))])]
        }])
        .check()
        .is_empty());
    }

    #[test]
    fn dates_are_calendar_days_from_the_start() {
        let day = |offset| Day {
            offset,
            name: "A".into(),
            slots: vec![slot(None)],
        };
        let d = doc(vec![
            Week {
                days: vec![day(4), day(0)],
            },
            Week { days: vec![day(2)] },
        ]);
        let start = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap();
        let dates: Vec<NaiveDate> = planned_dates(&d, start)
            .into_iter()
            .map(|(_, _, x)| x)
            .collect();
        let ymd = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(dates, [ymd(10, 26), ymd(10, 30), ymd(11, 4)]);
    }

    #[test]
    fn loads_progress_on_success_and_deload_after_failures() {
        let s = slot(Some(rule()));
        let r = rule();
        let top = |kg| {
            Some(vec![
                DoneSet {
                    reps: 8,
                    kg,
                    rir: Some(1)
                };
                3
            ])
        };
        let short = |kg| {
            Some(vec![
                DoneSet {
                    reps: 6,
                    kg,
                    rir: Some(0)
                };
                3
            ])
        };
        // Written out: 100 → 102.5 → 105 → fail → fail: 105 · 0.9 = 94.5 → 97.
        let past = [top(100.0), top(102.5), short(105.0), None, top(94.5)];
        assert_eq!(next_load(100.0, &s, &r, &past), 97.0);
        // Two sets at the top are not three; a set below the load does not count.
        let partial = Some(vec![
            DoneSet {
                reps: 8,
                kg: 100.0,
                rir: Some(2),
            },
            DoneSet {
                reps: 8,
                kg: 100.0,
                rir: Some(2),
            },
            DoneSet {
                reps: 8,
                kg: 90.0,
                rir: Some(2),
            },
        ]);
        assert!(!session_met(&s, &r, 100.0, partial.as_ref().unwrap()));
        // Reps at the top but below the target reserve do not count either.
        assert!(!session_met(
            &s,
            &r,
            100.0,
            &[DoneSet {
                reps: 8,
                kg: 100.0,
                rir: Some(0)
            }; 3]
        ));
        assert_eq!(next_load(100.0, &s, &r, &[]), 100.0);
    }
}
