use polars::prelude::*;

use crate::frame::str_col;

/// Epley: `w · (1 + r/30)`; a single rep is the weight itself.
pub fn epley(weight_kg: f64, reps: i32) -> f64 {
    if reps <= 1 {
        weight_kg
    } else {
        weight_kg * (1.0 + f64::from(reps) / 30.0)
    }
}

/// Brzycki: `w · 36 / (37 − r)`, defined for fewer than 37 reps.
pub fn brzycki(weight_kg: f64, reps: i32) -> Option<f64> {
    (reps < 37).then(|| weight_kg * 36.0 / (37.0 - f64::from(reps)))
}

/// The best estimated one-rep max per client and exercise in a batch of sets.
#[derive(Debug, Clone, PartialEq)]
pub struct BestE1rm {
    pub client_id: String,
    pub exercise: String,
    /// Epley estimate of the best set.
    pub e1rm_kg: f64,
    /// Brzycki estimate of the same set (absent past 36 reps to failure).
    pub e1rm_brzycki_kg: Option<f64>,
    pub set_id: String,
    pub performed_at_ms: i64,
}

/// Reps to failure: the reps done plus the reps left in reserve (as wger does).
fn reps_to_failure() -> Expr {
    col("reps") + col("rir").fill_null(lit(0))
}

/// Per set: Epley and Brzycki estimates from reps to failure.
pub(crate) fn with_e1rm(sets: LazyFrame) -> LazyFrame {
    let r = reps_to_failure().cast(DataType::Float64);
    let w = col("weight_kg");
    sets.with_columns([
        when(r.clone().lt_eq(lit(1.0)))
            .then(w.clone())
            .otherwise(w.clone() * (lit(1.0) + r.clone() / lit(30.0)))
            .alias("e1rm_kg"),
        when(r.clone().lt(lit(37.0)))
            .then(w * lit(36.0) / (lit(37.0) - r))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("e1rm_brzycki_kg"),
    ])
}

/// Plan: best Epley e1RM per (client, exercise), with the set that achieved it.
/// Ties go to the earliest set (then the lower set id), so the answer does not depend on
/// batch order.
pub fn best_e1rm(sets: LazyFrame) -> LazyFrame {
    let order = SortMultipleOptions::default().with_order_descending_multi([true, false, false]);
    with_e1rm(sets)
        .sort_by_exprs([col("e1rm_kg"), col("performed_at"), col("set_id")], order)
        .group_by([col("client_id"), col("exercise")])
        .agg([
            col("e1rm_kg").first(),
            col("e1rm_brzycki_kg").first(),
            col("set_id").first(),
            col("performed_at")
                .first()
                .cast(DataType::Int64)
                .alias("performed_at_ms"),
        ])
        .sort(["client_id", "exercise"], SortMultipleOptions::default())
}

impl BestE1rm {
    pub(crate) fn from_frame(df: &DataFrame) -> PolarsResult<Vec<Self>> {
        let clients = str_col(df, "client_id")?;
        let exercises = str_col(df, "exercise")?;
        let e1rm = df.column("e1rm_kg")?.f64()?;
        let brzycki = df.column("e1rm_brzycki_kg")?.f64()?;
        let set_ids = str_col(df, "set_id")?;
        let at = df.column("performed_at_ms")?.i64()?;
        let mut out = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            out.push(BestE1rm {
                client_id: clients.get(i).unwrap_or_default().to_owned(),
                exercise: exercises.get(i).unwrap_or_default().to_owned(),
                e1rm_kg: e1rm.get(i).unwrap_or_default(),
                e1rm_brzycki_kg: brzycki.get(i),
                set_id: set_ids.get(i).unwrap_or_default().to_owned(),
                performed_at_ms: at.get(i).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
