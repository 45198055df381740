//! Pure progress analytics over Polars DataFrames: no I/O, no service code.
//!
//! Formulas and their sources are in `docs/analytics.md`.

mod adherence;
mod body;
mod frame;
mod nutrition;
mod strength;
mod training;
mod volume;

pub use adherence::{
    daily_adherence, risk, streaks, BookingRow, DailyAdherence, PlannedRow, RiskInput, RiskReason,
    Streaks,
};
pub use body::{
    daily_metrics, weekly_change, weight_trend, DailyMetric, MeasurementRow, TrendPoint,
    WeeklyChange, TREND_SMOOTHING,
};
pub use frame::{sets_frame, week_start, SetRow};
pub use nutrition::{adherence, daily_intake, DailyIntake, FoodRow};
pub use strength::{best_e1rm, brzycki, epley, BestE1rm};
pub use training::{
    daily_e1rm, daily_training, day_analytics, muscle_weekly, muscle_weeks, muscles_frame,
    plateaus, records, rep_records, session_volume, workload, DailyE1rm, DailyLoad, DailyTraining,
    DayAnalytics, MuscleWeek, Plateau, RepRecord, SessionVolume, WeekBest, Workload, ACUTE_DAYS,
    ACWR_FLAG, CHRONIC_DAYS, HARD_SET_MAX_RIR, PLATEAU_MIN_WEEKS,
};
pub use volume::{weekly_volume, WeeklyVolume};

use polars::prelude::*;

/// What one micro-batch of logged sets contributes to the analytics tables.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchAnalytics {
    pub best_e1rm: Vec<BestE1rm>,
    pub weekly_volume: Vec<WeeklyVolume>,
}

/// Runs both plans over one batch of sets.
pub fn summarize(rows: &[SetRow]) -> PolarsResult<BatchAnalytics> {
    summarize_frame(&sets_frame(rows)?)
}

/// `summarize` over a frame of sets already built (`sets_frame`).
pub fn summarize_frame(frame: &DataFrame) -> PolarsResult<BatchAnalytics> {
    if frame.height() == 0 {
        return Ok(BatchAnalytics {
            best_e1rm: Vec::new(),
            weekly_volume: Vec::new(),
        });
    }
    let sets = frame.clone().lazy().cache();
    let best = best_e1rm(sets.clone()).collect()?;
    let volume = weekly_volume(sets).collect()?;
    Ok(BatchAnalytics {
        best_e1rm: BestE1rm::from_frame(&best)?,
        weekly_volume: WeeklyVolume::from_frame(&volume)?,
    })
}
