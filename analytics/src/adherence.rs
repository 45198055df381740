//! Adherence: planned workouts done and booked sessions attended, per client and day;
//! training streaks; and the at-risk score a trainer's list is ranked by.

use polars::prelude::*;

use crate::frame::{str_col, week_start};

/// A planned workout on its local day, and whether a finished workout carried it out.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRow {
    pub client_id: String,
    pub day: i32,
    pub completed: bool,
}

/// A booking as it now stands, on the day its session starts.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRow {
    pub client_id: String,
    pub day: i32,
    /// `booked`, `waitlisted`, `cancelled`, `late_cancelled`, `checked_in`, `attended` or
    /// `no_show`.
    pub status: String,
}

/// One client's plan and sessions on one day. A session counts once it is resolved:
/// attended (or checked in), a no-show, or cancelled late.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DailyAdherence {
    pub client_id: String,
    pub day: i32,
    pub planned: u32,
    pub completed: u32,
    pub sessions: u32,
    pub attended: u32,
    pub no_shows: u32,
    pub late_cancels: u32,
}

/// Counts per client and day.
pub fn daily_adherence(
    planned: &[PlannedRow],
    bookings: &[BookingRow],
) -> PolarsResult<Vec<DailyAdherence>> {
    let n = planned.len() + bookings.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut clients: Vec<&str> = Vec::with_capacity(n);
    let mut days = Vec::with_capacity(n);
    let mut is_planned = Vec::with_capacity(n);
    let mut completed = Vec::with_capacity(n);
    let mut status: Vec<&str> = Vec::with_capacity(n);
    for p in planned {
        clients.push(&p.client_id);
        days.push(p.day);
        is_planned.push(true);
        completed.push(p.completed);
        status.push("");
    }
    for b in bookings {
        clients.push(&b.client_id);
        days.push(b.day);
        is_planned.push(false);
        completed.push(false);
        status.push(&b.status);
    }
    let count = |e: Expr| e.cast(DataType::UInt32).sum().cast(DataType::UInt32);
    let attended = col("status")
        .eq(lit("attended"))
        .or(col("status").eq(lit("checked_in")));
    let no_show = col("status").eq(lit("no_show"));
    let late = col("status").eq(lit("late_cancelled"));
    let df = DataFrame::new(
        n,
        vec![
            Column::new("client_id".into(), clients),
            Column::new("day".into(), days),
            Column::new("is_planned".into(), is_planned),
            Column::new("completed".into(), completed),
            Column::new("status".into(), status),
        ],
    )?
    .lazy()
    .group_by([col("client_id"), col("day")])
    .agg([
        count(col("is_planned")).alias("planned"),
        count(col("completed")).alias("completed"),
        count(attended.clone().or(no_show.clone()).or(late.clone())).alias("sessions"),
        count(attended).alias("attended"),
        count(no_show).alias("no_shows"),
        count(late).alias("late_cancels"),
    ])
    .sort(["client_id", "day"], SortMultipleOptions::default())
    .collect()?;
    let c = str_col(&df, "client_id")?;
    let d = df.column("day")?.i32()?;
    let col_u32 = |name: &str| df.column(name).and_then(|c| c.u32());
    let (p, k, s) = (
        col_u32("planned")?,
        col_u32("completed")?,
        col_u32("sessions")?,
    );
    let (a, ns, l) = (
        col_u32("attended")?,
        col_u32("no_shows")?,
        col_u32("late_cancels")?,
    );
    Ok((0..df.height())
        .map(|i| DailyAdherence {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            day: d.get(i).unwrap_or_default(),
            planned: p.get(i).unwrap_or_default(),
            completed: k.get(i).unwrap_or_default(),
            sessions: s.get(i).unwrap_or_default(),
            attended: a.get(i).unwrap_or_default(),
            no_shows: ns.get(i).unwrap_or_default(),
            late_cancels: l.get(i).unwrap_or_default(),
        })
        .filter(|r| r.planned + r.sessions > 0)
        .collect())
}

/// Consecutive training, as of `today` (days since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Streaks {
    /// Consecutive ISO weeks with a training day, up to this week (or the last one, while
    /// this week has none yet).
    pub current_weeks: u32,
    pub longest_weeks: u32,
    /// Consecutive training days up to today (or yesterday, while today has none yet).
    pub current_days: u32,
    pub longest_days: u32,
}

/// Streaks of the days a client trained on (any order, duplicates allowed).
pub fn streaks(days: &[i32], today: i32) -> Streaks {
    fn runs(mut units: Vec<i32>, step: i32, now: i32) -> (u32, u32) {
        units.sort_unstable();
        units.dedup();
        let (mut longest, mut run, mut prev) = (0u32, 0u32, None::<i32>);
        for u in &units {
            run = if prev == Some(u - step) { run + 1 } else { 1 };
            longest = longest.max(run);
            prev = Some(*u);
        }
        // The current run must reach now, or the unit before it.
        let current = match prev {
            Some(last) if last == now || last == now - step => run,
            _ => 0,
        };
        (current, longest)
    }
    let (current_days, longest_days) = runs(
        days.iter().copied().filter(|d| *d <= today).collect(),
        1,
        today,
    );
    let weeks = days
        .iter()
        .filter(|d| **d <= today)
        .map(|d| week_start(*d))
        .collect();
    let (current_weeks, longest_weeks) = runs(weeks, 7, week_start(today));
    Streaks {
        current_weeks,
        longest_weeks,
        current_days,
        longest_days,
    }
}

/// What the at-risk score of a client is made of.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RiskInput {
    /// Adherence over the last 30 and 7 days, 0 to 1 (none: nothing planned or booked).
    pub adherence_30: Option<f64>,
    pub adherence_7: Option<f64>,
    /// Days since the last training day (none: never trained).
    pub days_since_training: Option<i64>,
    pub no_shows_30: u32,
    /// The workload ratio was above 1.5 in the last 7 days.
    pub workload_flagged: bool,
}

/// Why a client is at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskReason {
    LowAdherence,
    /// Adherence over 7 days 20 points or more below that over 30 (TrueCoach's "needs
    /// attention").
    AdherenceDrop,
    Inactive,
    NoShows,
    WorkloadSpike,
}

impl RiskReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskReason::LowAdherence => "low_adherence",
            RiskReason::AdherenceDrop => "adherence_drop",
            RiskReason::Inactive => "inactive",
            RiskReason::NoShows => "no_shows",
            RiskReason::WorkloadSpike => "workload_spike",
        }
    }
}

/// A score from 0 (fine) to 100, and its reasons: `40 × (1 − adherence_30) + 30 ×
/// min(days since training, 14) ÷ 14 + 20 × min(no-shows in 30 days, 3) ÷ 3 + 10 ×
/// workload flagged`. Missing adherence counts as none missed; never having trained
/// counts as 14 days.
pub fn risk(r: &RiskInput) -> (f64, Vec<RiskReason>) {
    let adherence = r.adherence_30.unwrap_or(1.0).clamp(0.0, 1.0);
    let idle = r.days_since_training.unwrap_or(14).clamp(0, 14) as f64;
    let score = 40.0 * (1.0 - adherence)
        + 30.0 * idle / 14.0
        + 20.0 * f64::from(r.no_shows_30.min(3)) / 3.0
        + if r.workload_flagged { 10.0 } else { 0.0 };
    let mut reasons = Vec::new();
    if adherence < 0.7 {
        reasons.push(RiskReason::LowAdherence);
    }
    if let (Some(week), Some(month)) = (r.adherence_7, r.adherence_30) {
        if month - week >= 0.2 {
            reasons.push(RiskReason::AdherenceDrop);
        }
    }
    if idle >= 7.0 {
        reasons.push(RiskReason::Inactive);
    }
    if r.no_shows_30 > 0 {
        reasons.push(RiskReason::NoShows);
    }
    if r.workload_flagged {
        reasons.push(RiskReason::WorkloadSpike);
    }
    (score, reasons)
}
