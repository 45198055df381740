use polars::prelude::*;

use crate::frame::str_col;

/// One food entry: grams eaten and what 100 g holds, on a client's local date.
#[derive(Debug, Clone, PartialEq)]
pub struct FoodRow {
    pub client_id: String,
    /// The local date, as days since the Unix epoch.
    pub date_days: i32,
    pub grams: f64,
    /// kcal, protein, carbs, fat, fiber per 100 g.
    pub per_100g: [f64; 5],
}

/// What a client ate on one day: kcal, protein, carbs, fat, fiber.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyIntake {
    pub client_id: String,
    pub date_days: i32,
    pub eaten: [f64; 5],
    pub entries: u32,
}

const NUTRIENTS: [&str; 5] = ["kcal", "protein_g", "carbs_g", "fat_g", "fiber_g"];

/// Plan: per client and day, Σ grams × per-100-g ÷ 100 of each nutrient, and the entries.
pub fn daily_intake(rows: &[FoodRow]) -> PolarsResult<Vec<DailyIntake>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut columns = vec![
        Column::new(
            "client_id".into(),
            rows.iter()
                .map(|r| r.client_id.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "date_days".into(),
            rows.iter().map(|r| r.date_days).collect::<Vec<_>>(),
        ),
        Column::new(
            "grams".into(),
            rows.iter().map(|r| r.grams).collect::<Vec<_>>(),
        ),
    ];
    for (i, name) in NUTRIENTS.iter().enumerate() {
        columns.push(Column::new(
            (*name).into(),
            rows.iter().map(|r| r.per_100g[i]).collect::<Vec<_>>(),
        ));
    }
    let mut aggs: Vec<Expr> = NUTRIENTS
        .iter()
        .map(|n| (col("grams") * col(*n) / lit(100.0)).sum().alias(*n))
        .collect();
    aggs.push(col("grams").count().cast(DataType::UInt32).alias("entries"));
    let df = DataFrame::new(rows.len(), columns)?
        .lazy()
        .group_by([col("client_id"), col("date_days")])
        .agg(aggs)
        .sort(["client_id", "date_days"], SortMultipleOptions::default())
        .collect()?;
    let clients = str_col(&df, "client_id")?;
    let days = df.column("date_days")?.i32()?;
    let entries = df.column("entries")?.u32()?;
    let sums: Vec<&Float64Chunked> = NUTRIENTS
        .iter()
        .map(|n| df.column(n).and_then(|c| c.f64()))
        .collect::<PolarsResult<_>>()?;
    Ok((0..df.height())
        .map(|i| DailyIntake {
            client_id: clients.get(i).unwrap_or_default().to_owned(),
            date_days: days.get(i).unwrap_or_default(),
            eaten: std::array::from_fn(|n| sums[n].get(i).unwrap_or_default()),
            entries: entries.get(i).unwrap_or_default(),
        })
        .collect())
}

/// Daily adherence to diet targets, in percent: for each nutrient with a target above
/// zero, 1 − |eaten − target| ÷ target (at least 0), averaged. 100 is every target met
/// exactly; eating half or one and a half times a target scores that nutrient 50.
/// `None` when no target is above zero.
pub fn adherence(eaten: &[f64; 5], targets: &[f64; 5]) -> Option<f64> {
    let scores: Vec<f64> = eaten
        .iter()
        .zip(targets)
        .filter(|(_, t)| **t > 0.0)
        .map(|(e, t)| (1.0 - (e - t).abs() / t).max(0.0))
        .collect();
    if scores.is_empty() {
        None
    } else {
        Some(100.0 * scores.iter().sum::<f64>() / scores.len() as f64)
    }
}
