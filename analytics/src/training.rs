//! A client's training by their local day and week: load, hard sets, the best e1RM of
//! each day, sessions, personal records per rep count, sets per muscle group, and the
//! acute:chronic workload ratio. Definitions and sources: `docs/analytics.md`.

use polars::prelude::*;

use crate::{
    frame::{str_col, week_start_expr},
    strength::with_e1rm,
};

/// Reps in reserve at or below which a set counts as hard (unknown effort counts too,
/// as does a failed set).
pub const HARD_SET_MAX_RIR: i32 = 3;

/// A set is hard when it failed, was taken within `HARD_SET_MAX_RIR` reps of failure, or
/// its effort was not recorded.
fn hard() -> Expr {
    col("failed")
        .or(col("rir").is_null())
        .or(col("rir").lt_eq(lit(HARD_SET_MAX_RIR)))
}

fn volume() -> Expr {
    col("weight_kg") * col("reps").cast(DataType::Float64)
}

fn count_true(e: Expr) -> Expr {
    e.cast(DataType::UInt32).sum().cast(DataType::UInt32)
}

/// One client's training on one local day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyTraining {
    pub client_id: String,
    pub day: i32,
    pub sets: u32,
    pub hard_sets: u32,
    pub reps: i64,
    /// Σ weight × reps.
    pub volume_kg: f64,
}

/// Plan: sets, hard sets, reps and volume load per client per local day.
pub fn daily_training(sets: LazyFrame) -> LazyFrame {
    sets.group_by([col("client_id"), col("local_day").alias("day")])
        .agg([
            col("set_id").count().cast(DataType::UInt32).alias("sets"),
            count_true(hard()).alias("hard_sets"),
            col("reps").cast(DataType::Int64).sum().alias("reps"),
            volume().sum().alias("volume_kg"),
        ])
        .sort(["client_id", "day"], SortMultipleOptions::default())
}

/// The best Epley e1RM of one exercise on one local day, and the set that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyE1rm {
    pub client_id: String,
    pub exercise: String,
    pub day: i32,
    pub e1rm_kg: f64,
    pub set_id: String,
    pub performed_at_ms: i64,
}

/// Order for "the best set": higher value first, then the earlier set, then the lower
/// set id, so the choice never depends on the order sets arrived in.
fn best_first(value: &str) -> (Vec<Expr>, SortMultipleOptions) {
    (
        vec![col(value), col("performed_at"), col("set_id")],
        SortMultipleOptions::default().with_order_descending_multi([true, false, false]),
    )
}

/// Plan: the best e1RM per client, exercise and local day (the e1RM chart).
pub fn daily_e1rm(sets: LazyFrame) -> LazyFrame {
    let (by, order) = best_first("e1rm_kg");
    with_e1rm(sets)
        .sort_by_exprs(by, order)
        .group_by([
            col("client_id"),
            col("exercise"),
            col("local_day").alias("day"),
        ])
        .agg([
            col("e1rm_kg").first(),
            col("set_id").first(),
            col("performed_at")
                .first()
                .cast(DataType::Int64)
                .alias("performed_at_ms"),
        ])
        .sort(
            ["client_id", "exercise", "day"],
            SortMultipleOptions::default(),
        )
}

/// The volume load of one session: a workout's sets on one local day, or the sets a
/// client logged on their own that day (`workout_id` absent).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionVolume {
    pub client_id: String,
    pub day: i32,
    pub workout_id: Option<String>,
    pub volume_kg: f64,
    pub sets: u32,
}

/// Plan: volume load per client, local day and workout.
pub fn session_volume(sets: LazyFrame) -> LazyFrame {
    sets.group_by([
        col("client_id"),
        col("local_day").alias("day"),
        col("workout_id"),
    ])
    .agg([
        volume().sum().alias("volume_kg"),
        col("set_id").count().cast(DataType::UInt32).alias("sets"),
    ])
    .sort(
        ["client_id", "day", "workout_id"],
        SortMultipleOptions::default().with_nulls_last(false),
    )
}

/// The heaviest set of one exercise for one rep count: a personal record.
#[derive(Debug, Clone, PartialEq)]
pub struct RepRecord {
    pub client_id: String,
    pub exercise: String,
    pub reps: i32,
    pub weight_kg: f64,
    pub set_id: String,
    pub performed_at_ms: i64,
    pub day: i32,
}

/// Plan: the best weight per client, exercise and reps done.
pub fn rep_records(sets: LazyFrame) -> LazyFrame {
    let (by, order) = best_first("weight_kg");
    sets.sort_by_exprs(by, order)
        .group_by([col("client_id"), col("exercise"), col("reps")])
        .agg([
            col("weight_kg").first(),
            col("set_id").first(),
            col("performed_at")
                .first()
                .cast(DataType::Int64)
                .alias("performed_at_ms"),
            col("local_day").first().alias("day"),
        ])
        .sort(
            ["client_id", "exercise", "reps"],
            SortMultipleOptions::default(),
        )
}

/// One client's work for one muscle group in one local ISO week.
#[derive(Debug, Clone, PartialEq)]
pub struct MuscleWeek {
    pub client_id: String,
    pub week_start: i32,
    pub muscle: String,
    pub sets: u32,
    pub hard_sets: u32,
    pub volume_kg: f64,
}

/// Plan: sets, hard sets and volume load per client, local ISO week and primary muscle.
/// `muscles` has one row per (exercise, muscle) for the exercises' primary muscles; a set
/// of an exercise it does not know counts for no muscle.
pub fn muscle_weekly(sets: LazyFrame, muscles: LazyFrame) -> LazyFrame {
    sets.join(
        muscles,
        [col("exercise")],
        [col("exercise")],
        JoinArgs::new(JoinType::Inner),
    )
    .group_by([
        col("client_id"),
        week_start_expr(col("local_day")).alias("week_start"),
        col("muscle"),
    ])
    .agg([
        col("set_id").count().cast(DataType::UInt32).alias("sets"),
        count_true(hard()).alias("hard_sets"),
        volume().sum().alias("volume_kg"),
    ])
    .sort(
        ["client_id", "week_start", "muscle"],
        SortMultipleOptions::default(),
    )
}

/// The (exercise, muscle) frame `muscle_weekly` joins with.
pub fn muscles_frame(pairs: &[(String, String)]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        pairs.len(),
        vec![
            Column::new(
                "exercise".into(),
                pairs.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "muscle".into(),
                pairs.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Days in the acute and chronic windows of the workload ratio.
pub const ACUTE_DAYS: i32 = 7;
pub const CHRONIC_DAYS: i32 = 28;
/// A ratio above this is flagged (Gabbett 2016).
pub const ACWR_FLAG: f64 = 1.5;

/// The acute:chronic workload ratio of one client on one local day.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub client_id: String,
    pub day: i32,
    /// That day's load (volume load, kg).
    pub load_kg: f64,
    /// Mean daily load over the 7 days ending that day.
    pub acute_kg: f64,
    /// Mean daily load over the 28 days ending that day.
    pub chronic_kg: f64,
    /// acute ÷ chronic.
    pub ratio: f64,
    /// The ratio is above `ACWR_FLAG` and the 21 days before the acute window had some
    /// load: with none, the ratio is 4 whatever was done (a first week), which says
    /// nothing of a spike.
    pub flagged: bool,
    /// The 21 days before the acute window had some load (without, no ratio means much).
    pub has_history: bool,
}

/// A day's load of one client (`DailyTraining::volume_kg`).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyLoad {
    pub client_id: String,
    pub day: i32,
    pub load_kg: f64,
}

/// The workload of every day from `from` to `to` (inclusive) of each client, from their
/// daily loads (which must cover `from − 27` to `to`; days without a row had no load).
/// A day with no load in its 28-day window has no row (no ratio).
pub fn workload(loads: &[DailyLoad], days: &[(String, i32, i32)]) -> PolarsResult<Vec<Workload>> {
    let mut clients = Vec::new();
    let mut each = Vec::new();
    for (client, from, to) in days {
        for day in *from..=*to {
            clients.push(client.as_str());
            each.push(day);
        }
    }
    if clients.is_empty() || loads.is_empty() {
        return Ok(Vec::new());
    }
    let calendar = DataFrame::new(
        each.len(),
        vec![
            Column::new("client_id".into(), clients),
            Column::new("day".into(), each),
        ],
    )?;
    let loads = DataFrame::new(
        loads.len(),
        vec![
            Column::new(
                "client_id".into(),
                loads
                    .iter()
                    .map(|l| l.client_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "load_day".into(),
                loads.iter().map(|l| l.day).collect::<Vec<_>>(),
            ),
            Column::new(
                "load".into(),
                loads.iter().map(|l| l.load_kg).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let within = |n: i32| {
        col("load_day")
            .lt_eq(col("day"))
            .and(col("load_day").gt(col("day") - lit(n)))
    };
    let sum_if = |cond: Expr| when(cond).then(col("load")).otherwise(lit(0.0)).sum();
    let df = calendar
        .lazy()
        .join(
            loads.lazy(),
            [col("client_id")],
            [col("client_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(within(CHRONIC_DAYS))
        .group_by([col("client_id"), col("day")])
        .agg([
            sum_if(col("load_day").eq(col("day"))).alias("load_kg"),
            (sum_if(within(ACUTE_DAYS)) / lit(f64::from(ACUTE_DAYS))).alias("acute_kg"),
            (col("load").sum() / lit(f64::from(CHRONIC_DAYS))).alias("chronic_kg"),
            sum_if(within(CHRONIC_DAYS).and(within(ACUTE_DAYS).not())).alias("before_kg"),
        ])
        .filter(col("chronic_kg").gt(lit(0.0)))
        .sort(["client_id", "day"], SortMultipleOptions::default())
        .collect()?;
    let client = str_col(&df, "client_id")?;
    let day = df.column("day")?.i32()?;
    let load = df.column("load_kg")?.f64()?;
    let acute = df.column("acute_kg")?.f64()?;
    let chronic = df.column("chronic_kg")?.f64()?;
    let before = df.column("before_kg")?.f64()?;
    Ok((0..df.height())
        .map(|i| {
            let (a, c) = (
                acute.get(i).unwrap_or_default(),
                chronic.get(i).unwrap_or_default(),
            );
            let has_history = before.get(i).unwrap_or_default() > 0.0;
            Workload {
                client_id: client.get(i).unwrap_or_default().to_owned(),
                day: day.get(i).unwrap_or_default(),
                load_kg: load.get(i).unwrap_or_default(),
                acute_kg: a,
                chronic_kg: c,
                ratio: a / c,
                flagged: a / c > ACWR_FLAG && has_history,
                has_history,
            }
        })
        .collect())
}

/// Everything the job recomputes from the sets of some client days.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayAnalytics {
    pub daily: Vec<DailyTraining>,
    pub e1rm: Vec<DailyE1rm>,
    pub sessions: Vec<SessionVolume>,
}

/// Runs the per-day plans over the sets of some client days.
pub fn day_analytics(sets: &DataFrame) -> PolarsResult<DayAnalytics> {
    if sets.height() == 0 {
        return Ok(DayAnalytics::default());
    }
    let lazy = sets.clone().lazy();
    let daily = daily_training(lazy.clone()).collect()?;
    let e1rm = daily_e1rm(lazy.clone()).collect()?;
    let sessions = session_volume(lazy).collect()?;

    let (c, d) = (str_col(&daily, "client_id")?, daily.column("day")?.i32()?);
    let (s, h) = (
        daily.column("sets")?.u32()?,
        daily.column("hard_sets")?.u32()?,
    );
    let (r, v) = (
        daily.column("reps")?.i64()?,
        daily.column("volume_kg")?.f64()?,
    );
    let daily = (0..daily.height())
        .map(|i| DailyTraining {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            day: d.get(i).unwrap_or_default(),
            sets: s.get(i).unwrap_or_default(),
            hard_sets: h.get(i).unwrap_or_default(),
            reps: r.get(i).unwrap_or_default(),
            volume_kg: v.get(i).unwrap_or_default(),
        })
        .collect();

    let (c, x) = (str_col(&e1rm, "client_id")?, str_col(&e1rm, "exercise")?);
    let (d, v) = (e1rm.column("day")?.i32()?, e1rm.column("e1rm_kg")?.f64()?);
    let id = str_col(&e1rm, "set_id")?;
    let at = e1rm.column("performed_at_ms")?.i64()?;
    let e1rm = (0..e1rm.height())
        .map(|i| DailyE1rm {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            exercise: x.get(i).unwrap_or_default().to_owned(),
            day: d.get(i).unwrap_or_default(),
            e1rm_kg: v.get(i).unwrap_or_default(),
            set_id: id.get(i).unwrap_or_default().to_owned(),
            performed_at_ms: at.get(i).unwrap_or_default(),
        })
        .collect();

    let (c, d) = (
        str_col(&sessions, "client_id")?,
        sessions.column("day")?.i32()?,
    );
    let w = str_col(&sessions, "workout_id")?;
    let (v, s) = (
        sessions.column("volume_kg")?.f64()?,
        sessions.column("sets")?.u32()?,
    );
    let sessions = (0..sessions.height())
        .map(|i| SessionVolume {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            day: d.get(i).unwrap_or_default(),
            workout_id: w.get(i).map(str::to_owned),
            volume_kg: v.get(i).unwrap_or_default(),
            sets: s.get(i).unwrap_or_default(),
        })
        .collect();
    Ok(DayAnalytics {
        daily,
        e1rm,
        sessions,
    })
}

/// Runs `rep_records` over some sets.
pub fn records(sets: &DataFrame) -> PolarsResult<Vec<RepRecord>> {
    if sets.height() == 0 {
        return Ok(Vec::new());
    }
    let df = rep_records(sets.clone().lazy()).collect()?;
    let (c, x) = (str_col(&df, "client_id")?, str_col(&df, "exercise")?);
    let (r, w) = (df.column("reps")?.i32()?, df.column("weight_kg")?.f64()?);
    let (id, at) = (
        str_col(&df, "set_id")?,
        df.column("performed_at_ms")?.i64()?,
    );
    let d = df.column("day")?.i32()?;
    Ok((0..df.height())
        .map(|i| RepRecord {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            exercise: x.get(i).unwrap_or_default().to_owned(),
            reps: r.get(i).unwrap_or_default(),
            weight_kg: w.get(i).unwrap_or_default(),
            set_id: id.get(i).unwrap_or_default().to_owned(),
            performed_at_ms: at.get(i).unwrap_or_default(),
            day: d.get(i).unwrap_or_default(),
        })
        .collect())
}

/// Runs `muscle_weekly` over some sets and the primary muscles of their exercises.
pub fn muscle_weeks(
    sets: &DataFrame,
    muscles: &[(String, String)],
) -> PolarsResult<Vec<MuscleWeek>> {
    if sets.height() == 0 || muscles.is_empty() {
        return Ok(Vec::new());
    }
    let df = muscle_weekly(sets.clone().lazy(), muscles_frame(muscles)?.lazy()).collect()?;
    let (c, w) = (str_col(&df, "client_id")?, df.column("week_start")?.i32()?);
    let m = str_col(&df, "muscle")?;
    let (s, h) = (df.column("sets")?.u32()?, df.column("hard_sets")?.u32()?);
    let v = df.column("volume_kg")?.f64()?;
    Ok((0..df.height())
        .map(|i| MuscleWeek {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            week_start: w.get(i).unwrap_or_default(),
            muscle: m.get(i).unwrap_or_default().to_owned(),
            sets: s.get(i).unwrap_or_default(),
            hard_sets: h.get(i).unwrap_or_default(),
            volume_kg: v.get(i).unwrap_or_default(),
        })
        .collect())
}

/// Weeks of data a plateau needs.
pub const PLATEAU_MIN_WEEKS: u32 = 3;

/// The best e1RM of an exercise in one ISO week (its Monday, as days since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct WeekBest {
    pub exercise: String,
    pub week_start: i32,
    pub e1rm_kg: f64,
}

/// The trend of an exercise's weekly best e1RM.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    pub exercise: String,
    /// Weeks with data.
    pub weeks: u32,
    /// Slope of the least-squares line through (week, best e1RM), in kg per week.
    pub slope_kg_per_week: f64,
    /// No gain: the slope is 0 or below.
    pub plateau: bool,
}

/// Per exercise with at least `PLATEAU_MIN_WEEKS` weeks of data: the least-squares slope
/// `(n·Σxy − Σx·Σy) ÷ (n·Σx² − (Σx)²)` of the weekly best e1RM over the week number, and
/// whether it is a plateau (slope ≤ 0).
pub fn plateaus(rows: &[WeekBest]) -> PolarsResult<Vec<Plateau>> {
    let Some(first) = rows.iter().map(|r| r.week_start).min() else {
        return Ok(Vec::new());
    };
    let df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "exercise".into(),
                rows.iter().map(|r| r.exercise.as_str()).collect::<Vec<_>>(),
            ),
            // Weeks from the earliest (the slope does not depend on where x starts, and
            // small numbers keep the sums exact enough).
            Column::new(
                "x".into(),
                rows.iter()
                    .map(|r| f64::from(r.week_start - first) / 7.0)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "y".into(),
                rows.iter().map(|r| r.e1rm_kg).collect::<Vec<_>>(),
            ),
        ],
    )?
    .lazy()
    .group_by([col("exercise")])
    .agg([
        col("x").count().cast(DataType::Float64).alias("n"),
        col("x").sum().alias("sx"),
        col("y").sum().alias("sy"),
        (col("x") * col("y")).sum().alias("sxy"),
        (col("x") * col("x")).sum().alias("sxx"),
    ])
    .filter(col("n").gt_eq(lit(f64::from(PLATEAU_MIN_WEEKS))))
    .with_column(
        ((col("n") * col("sxy") - col("sx") * col("sy"))
            / (col("n") * col("sxx") - col("sx") * col("sx")))
        .alias("slope"),
    )
    .sort(["exercise"], SortMultipleOptions::default())
    .collect()?;
    let x = str_col(&df, "exercise")?;
    let (n, slope) = (df.column("n")?.f64()?, df.column("slope")?.f64()?);
    Ok((0..df.height())
        .map(|i| {
            let s = slope.get(i).unwrap_or_default();
            Plateau {
                exercise: x.get(i).unwrap_or_default().to_owned(),
                weeks: n.get(i).unwrap_or_default() as u32,
                slope_kg_per_week: s,
                plateau: s <= 0.0,
            }
        })
        .collect())
}
