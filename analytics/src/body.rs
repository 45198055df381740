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

/// The trend's change over the week to its last point: that point's trend less the trend
/// of the last point at least 7 days before it (the goal's `weekly_rate_kg` reads the
/// same). `None` without such a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeeklyChange {
    /// The last point's day and trend.
    pub day: i32,
    pub trend_kg: f64,
    /// The earlier point's trend.
    pub from_kg: f64,
    pub change_kg: f64,
    /// `change_kg` as a percentage of `from_kg`.
    pub percent: f64,
}

/// The weekly change of a trend (`weight_trend`'s output, oldest first).
pub fn weekly_change(trend: &[TrendPoint]) -> Option<WeeklyChange> {
    let last = trend.last()?;
    let from = trend.iter().rev().find(|p| p.day <= last.day - 7)?;
    let change_kg = last.trend_kg - from.trend_kg;
    Some(WeeklyChange {
        day: last.day,
        trend_kg: last.trend_kg,
        from_kg: from.trend_kg,
        change_kg,
        percent: 100.0 * change_kg / from.trend_kg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekly_change_reaches_back_to_the_last_point_a_week_or_more_before() {
        let p = |day, trend_kg| TrendPoint {
            day,
            weight_kg: trend_kg,
            trend_kg,
        };
        assert_eq!(weekly_change(&[p(1, 80.0), p(7, 79.0)]), None, "six days");
        let change = weekly_change(&[p(0, 81.0), p(2, 80.0), p(5, 79.5), p(9, 78.0)]).unwrap();
        // Day 9 against day 2 (the last on or before day 2), not day 0 or day 5.
        assert_eq!(change.day, 9);
        assert!((change.change_kg - (78.0 - 80.0)).abs() < 1e-12);
        assert!((change.percent - 100.0 * (78.0 - 80.0) / 80.0).abs() < 1e-12);
    }
}
