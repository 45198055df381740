use polars::prelude::*;

/// One logged set, as the stream job decodes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SetRow {
    pub set_id: String,
    pub client_id: String,
    pub exercise: String,
    pub reps: i32,
    pub weight_kg: f64,
    pub rir: Option<i32>,
    /// Milliseconds since the Unix epoch, UTC.
    pub performed_at_ms: i64,
    /// The client's local day of the set, as days since the Unix epoch.
    pub local_day: i32,
    /// The set fell short of what was attempted.
    pub failed: bool,
    /// Its workout session (absent: logged on its own).
    pub workout_id: Option<String>,
}

/// Builds the `sets` frame every plan starts from.
pub fn sets_frame(rows: &[SetRow]) -> PolarsResult<DataFrame> {
    let performed_at = Series::new(
        "performed_at".into(),
        rows.iter().map(|r| r.performed_at_ms).collect::<Vec<_>>(),
    )
    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?;
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "set_id".into(),
                rows.iter().map(|r| r.set_id.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "client_id".into(),
                rows.iter()
                    .map(|r| r.client_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "exercise".into(),
                rows.iter().map(|r| r.exercise.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "reps".into(),
                rows.iter().map(|r| r.reps).collect::<Vec<_>>(),
            ),
            Column::new(
                "weight_kg".into(),
                rows.iter().map(|r| r.weight_kg).collect::<Vec<_>>(),
            ),
            Column::new("rir".into(), rows.iter().map(|r| r.rir).collect::<Vec<_>>()),
            performed_at.into(),
            Column::new(
                "local_day".into(),
                rows.iter().map(|r| r.local_day).collect::<Vec<_>>(),
            ),
            Column::new(
                "failed".into(),
                rows.iter().map(|r| r.failed).collect::<Vec<_>>(),
            ),
            Column::new(
                "workout_id".into(),
                rows.iter()
                    .map(|r| r.workout_id.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Monday of the ISO week of a day, both as days since the Unix epoch (a Thursday).
pub fn week_start(days: i32) -> i32 {
    days - (days + 3).rem_euclid(7)
}

/// The same as an expression over a column of days.
pub(crate) fn week_start_expr(days: Expr) -> Expr {
    // (days + 3) mod 7, kept non-negative for days before 1970 too.
    days.clone() - (((days + lit(3)) % lit(7)) + lit(7)) % lit(7)
}

pub(crate) fn str_col<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<&'a StringChunked> {
    df.column(name)?.str()
}
