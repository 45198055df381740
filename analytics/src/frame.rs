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
        ],
    )
}

pub(crate) fn str_col<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<&'a StringChunked> {
    df.column(name)?.str()
}
