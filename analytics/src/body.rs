//! Body measurements: each client's daily value per metric and the weight trend.

use polars::prelude::*;

use crate::frame::str_col;

/// The Hacker's Diet smoothing: each day's trend moves 10 % of the way to that day's
/// weight.
pub const TREND_SMOOTHING: f64 = 0.1;

/// One measurement that counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementRow {
    pub client_id: String,
    pub metric: String,
    /// The client's local day, as days since the Unix epoch.
    pub day: i32,
    pub value: f64,
}

/// A client's value of one metric on one local day: the mean of that day's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyMetric {
    pub client_id: String,
    pub metric: String,
    pub day: i32,
    pub value: f64,
    pub measurements: u32,
}

/// The mean per client, metric and local day.
pub fn daily_metrics(rows: &[MeasurementRow]) -> PolarsResult<Vec<DailyMetric>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "client_id".into(),
                rows.iter()
                    .map(|r| r.client_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "metric".into(),
                rows.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("day".into(), rows.iter().map(|r| r.day).collect::<Vec<_>>()),
            Column::new(
                "value".into(),
                rows.iter().map(|r| r.value).collect::<Vec<_>>(),
            ),
        ],
    )?
    .lazy()
    .group_by([col("client_id"), col("metric"), col("day")])
    .agg([
        col("value").mean().alias("value"),
        col("value")
            .count()
            .cast(DataType::UInt32)
            .alias("measurements"),
    ])
    .sort(
        ["client_id", "metric", "day"],
        SortMultipleOptions::default(),
    )
    .collect()?;
    let (c, m) = (str_col(&df, "client_id")?, str_col(&df, "metric")?);
    let (d, v) = (df.column("day")?.i32()?, df.column("value")?.f64()?);
    let n = df.column("measurements")?.u32()?;
    Ok((0..df.height())
        .map(|i| DailyMetric {
            client_id: c.get(i).unwrap_or_default().to_owned(),
            metric: m.get(i).unwrap_or_default().to_owned(),
            day: d.get(i).unwrap_or_default(),
            value: v.get(i).unwrap_or_default(),
            measurements: n.get(i).unwrap_or_default(),
        })
        .collect())
}

/// One weighed day and the trend through it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub day: i32,
    pub weight_kg: f64,
    pub trend_kg: f64,
}

/// The trend of a client's daily weights (any order): the first day's trend is its
/// weight; each later weighed day's is `trend + 10 % × (weight − trend)`. Days without a
/// weight carry the trend over unchanged (they have no point).
pub fn weight_trend(days: &[(i32, f64)]) -> Vec<TrendPoint> {
    let mut sorted = days.to_vec();
    sorted.sort_by_key(|(d, _)| *d);
    let mut out = Vec::with_capacity(sorted.len());
    let mut trend: Option<f64> = None;
    for (day, weight_kg) in sorted {
        let t = trend.map_or(weight_kg, |t| t + TREND_SMOOTHING * (weight_kg - t));
        trend = Some(t);
        out.push(TrendPoint {
            day,
            weight_kg,
            trend_kg: t,
        });
    }
    out
}
