use polars::prelude::*;

use crate::frame::{str_col, week_start_expr};

/// Volume load (Σ weight × reps) of one client in one ISO week.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyVolume {
    pub client_id: String,
    /// Monday of the ISO week of the client's local days, as days since the Unix epoch.
    pub week_start_days: i32,
    pub volume_kg: f64,
    pub sets: u32,
}

/// Plan: volume load and set count per client per ISO week of their local days (weeks
/// start on Monday).
pub fn weekly_volume(sets: LazyFrame) -> LazyFrame {
    sets.with_column(week_start_expr(col("local_day")).alias("week_start_days"))
        .group_by([col("client_id"), col("week_start_days")])
        .agg([
            (col("weight_kg") * col("reps").cast(DataType::Float64))
                .sum()
                .alias("volume_kg"),
            col("set_id").count().cast(DataType::UInt32).alias("sets"),
        ])
        .sort(
            ["client_id", "week_start_days"],
            SortMultipleOptions::default(),
        )
}

impl WeeklyVolume {
    pub(crate) fn from_frame(df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let clients = str_col(df, "client_id")?;
        let weeks = df.column("week_start_days")?.i32()?;
        let volume = df.column("volume_kg")?.f64()?;
        let sets = df.column("sets")?.u32()?;
        let mut out = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            out.push(WeeklyVolume {
                client_id: clients.get(i).unwrap_or_default().to_owned(),
                week_start_days: weeks.get(i).unwrap_or_default(),
                volume_kg: volume.get(i).unwrap_or_default(),
                sets: sets.get(i).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
