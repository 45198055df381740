//! Exports: a client's history, a trainer's and a gym's analytics as CSV or Parquet,
//! built with the `arrow` and `parquet` crates and streamed: rows are read from
//! PostgreSQL a chunk at a time, each chunk becomes an Arrow record batch (a CSV block, or
//! a Parquet row group) encoded off the async runtime and sent as it is ready, so an
//! export's memory is about one chunk of rows and its encoding, whatever its size (a
//! download holds a database connection until it ends). Who may export is who may read
//! (`may_read_client`, the trainer's and the gym's readers).

use std::{
    io::{self, Write},
    sync::{Arc, Mutex},
};

use arrow::{
    array::{
        ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    },
    datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit},
    error::ArrowError,
    record_batch::RecordBatch,
};
use axum::{
    body::{Body, Bytes},
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fitsync_platform::{
    auth::{Grants, Role},
    ApiError, ApiPath, ApiQuery, AuthUser,
};
use futures::TryStreamExt;
use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgRow, PgPool, Row};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{business, charts::range, ProgressState};

/// Rows per record batch (and Parquet row group).
const CHUNK: usize = 8192;

/// A column's type, as the dataset's query returns it and as Arrow stores it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `text` (ids are cast to text) → Utf8.
    Text,
    /// `date` → Date32.
    Date,
    /// `timestamptz` → Timestamp(µs, +00:00).
    Timestamp,
    /// `bigint` → Int64.
    Int,
    /// `float8` → Float64.
    Float,
    Bool,
}

/// What an export holds: its query (with `$1` the client, trainer or gym, `$2` and `$3`
/// the first and last day) and its columns, in the query's order.
struct Dataset {
    name: &'static str,
    sql: &'static str,
    columns: &'static [(&'static str, Kind)],
}

impl Dataset {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(name, kind)| {
                    let t = match kind {
                        Kind::Text => DataType::Utf8,
                        Kind::Date => DataType::Date32,
                        Kind::Timestamp => {
                            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
                        }
                        Kind::Int => DataType::Int64,
                        Kind::Float => DataType::Float64,
                        Kind::Bool => DataType::Boolean,
                    };
                    Field::new(*name, t, true)
                })
                .collect::<Vec<_>>(),
        ))
    }
}

/// One column of rows as an Arrow array.
fn column(rows: &[PgRow], i: usize, kind: Kind) -> Result<ArrayRef, sqlx::Error> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    Ok(match kind {
        Kind::Text => {
            let mut b = StringBuilder::new();
            for r in rows {
                b.append_option(r.try_get::<Option<String>, _>(i)?);
            }
            Arc::new(b.finish())
        }
        Kind::Date => {
            let mut b = Date32Builder::new();
            for r in rows {
                let d: Option<NaiveDate> = r.try_get(i)?;
                b.append_option(d.map(|d| (d - epoch).num_days() as i32));
            }
            Arc::new(b.finish())
        }
        Kind::Timestamp => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("+00:00");
            for r in rows {
                let t: Option<DateTime<Utc>> = r.try_get(i)?;
                b.append_option(t.map(|t| t.timestamp_micros()));
            }
            Arc::new(b.finish())
        }
        Kind::Int => {
            let mut b = Int64Builder::new();
            for r in rows {
                b.append_option(r.try_get::<Option<i64>, _>(i)?);
            }
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::new();
            for r in rows {
                b.append_option(r.try_get::<Option<f64>, _>(i)?);
            }
            Arc::new(b.finish())
        }
        Kind::Bool => {
            let mut b = BooleanBuilder::new();
            for r in rows {
                b.append_option(r.try_get::<Option<bool>, _>(i)?);
            }
            Arc::new(b.finish())
        }
    })
}

fn batch(
    schema: &SchemaRef,
    columns: &[(&str, Kind)],
    rows: &[PgRow],
) -> anyhow::Result<RecordBatch> {
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| column(rows, i, *kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// The bytes an encoder has written and not yet sent.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// RFC 4180 CSV with a header row; dates `YYYY-MM-DD`, instants RFC 3339 in UTC.
    Csv,
    /// Apache Parquet (Snappy), one row group per 8192 rows.
    Parquet,
}

enum Encoder {
    Csv(arrow::csv::Writer<Pending>),
    Parquet(ArrowWriter<Pending>),
}

impl Encoder {
    fn new(format: Format, schema: SchemaRef, out: Pending) -> Result<Self, ArrowError> {
        Ok(match format {
            Format::Csv => Encoder::Csv(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            ),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                Encoder::Parquet(
                    ArrowWriter::try_new(out, schema, Some(props))
                        .map_err(|e| ArrowError::ExternalError(Box::new(e)))?,
                )
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            Encoder::Csv(w) => w.write(batch)?,
            Encoder::Parquet(w) => {
                w.write(batch)?;
                // Ends the row group: its bytes can go now.
                w.flush()?;
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        if let Encoder::Parquet(w) = self {
            w.close()?;
        }
        Ok(())
    }
}

/// Reads the dataset a chunk at a time and sends each chunk's bytes; encoding runs on
/// the blocking pool.
async fn produce(
    pool: PgPool,
    dataset: &'static Dataset,
    (subject, from, to): (Uuid, NaiveDate, NaiveDate),
    format: Format,
    tx: &mpsc::Sender<Result<Bytes, io::Error>>,
) -> anyhow::Result<()> {
    let schema = dataset.schema();
    let out = Pending::default();
    let mut encoder = Encoder::new(format, schema.clone(), out.clone())?;
    let mut rows = sqlx::query(dataset.sql)
        .bind(subject)
        .bind(from)
        .bind(to)
        .fetch(&pool);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut written = false;
    loop {
        let next = rows.try_next().await?;
        let done = next.is_none();
        chunk.extend(next);
        // A full chunk goes; so does the last, and an empty one when there were no rows
        // at all (the CSV header, an empty Parquet file).
        if chunk.len() >= CHUNK || (done && (!chunk.is_empty() || !written)) {
            let rows_now = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let schema = schema.clone();
            encoder = tokio::task::spawn_blocking(move || {
                let batch = batch(&schema, dataset.columns, &rows_now)?;
                encoder.write(&batch)?;
                Ok::<_, anyhow::Error>(encoder)
            })
            .await??;
            written = true;
            if tx.send(Ok(Bytes::from(out.take()))).await.is_err() {
                return Ok(()); // the caller went away
            }
        }
        if done {
            break;
        }
    }
    tokio::task::spawn_blocking(move || encoder.finish()).await??;
    let _ = tx.send(Ok(Bytes::from(out.take()))).await;
    Ok(())
}

/// The streamed response of an export.
fn stream(
    pool: PgPool,
    dataset: &'static Dataset,
    params: (Uuid, NaiveDate, NaiveDate),
    format: Format,
) -> Response {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        if let Err(e) = produce(pool, dataset, params, format, &tx).await {
            tracing::warn!(error = %e, dataset = dataset.name, "export failed");
            // The status is sent: the body ends in an error, so the download fails.
            let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Parquet => ("application/vnd.apache.parquet", "parquet"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}.{ext}\"",
                    dataset.name, params.0
                ),
            ),
        ],
        body,
    )
        .into_response()
}

macro_rules! with_range {
    ($sql:literal) => {
        concat!(
            "with p as (select $1::uuid as subject, $2::date as from_day, $3::date as to_day) ",
            $sql
        )
    };
}

static SETS: Dataset = Dataset {
    name: "sets",
    sql: with_range!(
        "select s.set_id::text, s.exercise, s.reps::bigint, s.weight_kg, s.rir::bigint, s.failed,
                s.performed_at, s.local_date, s.workout_id::text
         from p join set_facts s on s.client_id = p.subject and not s.deleted
           and s.local_date between p.from_day and p.to_day
         order by s.performed_at, s.set_id"
    ),
    columns: &[
        ("set_id", Kind::Text),
        ("exercise", Kind::Text),
        ("reps", Kind::Int),
        ("weight_kg", Kind::Float),
        ("rir", Kind::Int),
        ("failed", Kind::Bool),
        ("performed_at", Kind::Timestamp),
        ("local_date", Kind::Date),
        ("workout_id", Kind::Text),
    ],
};

static DAILY_TRAINING: Dataset = Dataset {
    name: "daily_training",
    sql: with_range!(
        "select t.day, t.sets::bigint, t.hard_sets::bigint, t.reps, t.volume_kg::float8
         from p join daily_training t on t.client_id = p.subject and t.day between p.from_day and p.to_day
         order by t.day"
    ),
    columns: &[
        ("day", Kind::Date),
        ("sets", Kind::Int),
        ("hard_sets", Kind::Int),
        ("reps", Kind::Int),
        ("volume_kg", Kind::Float),
    ],
};

static E1RM: Dataset = Dataset {
    name: "e1rm",
    sql: with_range!(
        "select e.day, e.exercise, e.e1rm_kg, e.set_id::text, e.achieved_at
         from p join daily_e1rm e on e.client_id = p.subject and e.day between p.from_day and p.to_day
         order by e.day, e.exercise"
    ),
    columns: &[
        ("day", Kind::Date),
        ("exercise", Kind::Text),
        ("e1rm_kg", Kind::Float),
        ("set_id", Kind::Text),
        ("achieved_at", Kind::Timestamp),
    ],
};

static MEASUREMENTS: Dataset = Dataset {
    name: "measurements",
    sql: with_range!(
        "select m.measurement_id::text, m.metric, m.value, m.local_date, m.measured_at
         from p join measurement_facts m on m.client_id = p.subject and not m.deleted
           and m.local_date between p.from_day and p.to_day
         order by m.measured_at, m.measurement_id"
    ),
    columns: &[
        ("measurement_id", Kind::Text),
        ("metric", Kind::Text),
        ("value", Kind::Float),
        ("local_date", Kind::Date),
        ("measured_at", Kind::Timestamp),
    ],
};

static ADHERENCE: Dataset = Dataset {
    name: "adherence",
    sql: with_range!(
        "select a.day, a.planned::bigint, a.completed::bigint, a.sessions::bigint, a.attended::bigint,
                a.no_shows::bigint, a.late_cancels::bigint
         from p join daily_adherence a on a.client_id = p.subject and a.day between p.from_day and p.to_day
         order by a.day"
    ),
    columns: &[
        ("day", Kind::Date),
        ("planned", Kind::Int),
        ("completed", Kind::Int),
        ("sessions", Kind::Int),
        ("attended", Kind::Int),
        ("no_shows", Kind::Int),
        ("late_cancels", Kind::Int),
    ],
};

static TRAINER_CLIENTS: Dataset = Dataset {
    name: "clients",
    sql: with_range!(
        "select r.client_id::text, r.days_since, r.no_shows_30, r.adherence_7, r.adherence_30
         from p, risk_inputs(p.subject, p.to_day) r order by r.client_id"
    ),
    columns: &[
        ("client_id", Kind::Text),
        ("days_since_training", Kind::Int),
        ("no_shows_30", Kind::Int),
        ("adherence_7", Kind::Float),
        ("adherence_30", Kind::Float),
    ],
};

static TRAINER_ADHERENCE: Dataset = Dataset {
    name: "clients_adherence",
    sql: with_range!(
        "select a.client_id::text, a.day, a.planned::bigint, a.completed::bigint, a.sessions::bigint,
                a.attended::bigint, a.no_shows::bigint, a.late_cancels::bigint
         from p join access_grants g on g.kind = 'trainer' and g.grantee = p.subject and g.active
           join daily_adherence a on a.client_id = g.subject and a.day between p.from_day and p.to_day
         order by a.client_id, a.day"
    ),
    columns: &[
        ("client_id", Kind::Text),
        ("day", Kind::Date),
        ("planned", Kind::Int),
        ("completed", Kind::Int),
        ("sessions", Kind::Int),
        ("attended", Kind::Int),
        ("no_shows", Kind::Int),
        ("late_cancels", Kind::Int),
    ],
};

static REVENUE: Dataset = Dataset {
    name: "revenue",
    sql: with_range!(
        "select r.month, r.currency, r.purchases, r.revenue_cents
         from p, package_revenue(p.subject, p.from_day, p.to_day) r order by 1, 2"
    ),
    columns: &[
        ("month", Kind::Date),
        ("currency", Kind::Text),
        ("purchases", Kind::Int),
        ("revenue_cents", Kind::Int),
    ],
};

static GYM_DAILY: Dataset = Dataset {
    name: "gym_daily",
    sql: with_range!(
        "select d.day, m.metric, d.value
         from p, unnest(array['bookings', 'attended', 'no_shows', 'signups', 'active_members']) as m(metric),
              gym_daily(p.subject, m.metric, p.from_day, p.to_day) d
         order by 1, 2"
    ),
    columns: &[
        ("day", Kind::Date),
        ("metric", Kind::Text),
        ("value", Kind::Int),
    ],
};

static GYM_HOURS: Dataset = Dataset {
    name: "bookings_by_hour",
    sql: with_range!(
        "select h.weekday::bigint, h.hour::bigint, h.bookings
         from p, gym_booking_hours(p.subject, p.from_day, p.to_day) h"
    ),
    columns: &[
        ("weekday", Kind::Int),
        ("hour", Kind::Int),
        ("bookings", Kind::Int),
    ],
};

static GYM_COHORTS: Dataset = Dataset {
    name: "cohorts",
    sql: with_range!(
        "select c.cohort, c.month_offset::bigint, c.members, c.retained
         from p, gym_cohorts(p.subject, p.from_day, p.to_day) c"
    ),
    columns: &[
        ("cohort", Kind::Date),
        ("month_offset", Kind::Int),
        ("members", Kind::Int),
        ("retained", Kind::Int),
    ],
};

/// What a client exports.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientDataset {
    /// Every set that counts.
    Sets,
    /// Per local day: sets, hard sets, reps, volume load.
    DailyTraining,
    /// Per local day and exercise: the best e1RM and the set that made it.
    E1rm,
    /// Body measurements.
    Measurements,
    /// Per day: planned workouts done, sessions attended.
    Adherence,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientExportQuery {
    #[param(inline)]
    dataset: ClientDataset,
    #[param(inline)]
    format: Format,
    /// First local day (default: 364 days before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
}

/// `GET /api/progress/{client_id}/export`: a client's history as CSV or Parquet.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/export", tag = "progress",
    summary = "A client's history (sets, daily training, e1RM, measurements, adherence) as CSV or Parquet, streamed",
    params(("client_id" = Uuid, Path, description = "The client"), ClientExportQuery),
    responses((status = 200, description = "The file", content(
        (String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet")))),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn client_export(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ClientExportQuery>,
) -> Result<Response, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let (from, to) = range(q.from, q.to, Duration::days(365))?;
    let dataset = match q.dataset {
        ClientDataset::Sets => &SETS,
        ClientDataset::DailyTraining => &DAILY_TRAINING,
        ClientDataset::E1rm => &E1RM,
        ClientDataset::Measurements => &MEASUREMENTS,
        ClientDataset::Adherence => &ADHERENCE,
    };
    Ok(stream(state.pool, dataset, (client_id, from, to), q.format))
}

/// What a trainer exports.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrainerDataset {
    /// Each current client's at-risk inputs as of `to`.
    Clients,
    /// Each current client's adherence per day.
    ClientsAdherence,
    /// Packages sold per month and currency.
    Revenue,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrainerExportQuery {
    #[param(inline)]
    dataset: TrainerDataset,
    #[param(inline)]
    format: Format,
    /// First local day (default: 364 days before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
}

/// `GET /api/analytics/trainers/{trainer_id}/export`: a trainer's analytics as CSV or
/// Parquet (revenue: the trainer's readers; per-client rows: the trainer and admins).
#[utoipa::path(
    get, path = "/api/analytics/trainers/{trainer_id}/export", tag = "analytics",
    summary = "A trainer's analytics (clients' risk inputs, clients' adherence, revenue) as CSV or Parquet, streamed",
    params(("trainer_id" = Uuid, Path, description = "The trainer"), TrainerExportQuery),
    responses((status = 200, description = "The file", content(
        (String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet")))),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn trainer_export(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(trainer_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<TrainerExportQuery>,
) -> Result<Response, ApiError> {
    business::may_read_trainer(&user, trainer_id, &Grants::new(&state.pool, &state.auth)).await?;
    // Per-client rows are the trainer's and admins' only (as the at-risk list is): a
    // gym's owner sees the trainer's totals, not clients who may not belong to the gym.
    if matches!(
        q.dataset,
        TrainerDataset::Clients | TrainerDataset::ClientsAdherence
    ) && !(user.role() == Role::Admin || user.id() == trainer_id)
    {
        return Err(ApiError::Forbidden);
    }
    let (from, to) = range(q.from, q.to, Duration::days(365))?;
    let dataset = match q.dataset {
        TrainerDataset::Clients => &TRAINER_CLIENTS,
        TrainerDataset::ClientsAdherence => &TRAINER_ADHERENCE,
        TrainerDataset::Revenue => &REVENUE,
    };
    Ok(stream(
        state.pool,
        dataset,
        (trainer_id, from, to),
        q.format,
    ))
}

/// What a gym exports.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GymDataset {
    /// Per day and metric (bookings, attended, no-shows, sign-ups, active members).
    Daily,
    BookingsByHour,
    Cohorts,
    Revenue,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GymExportQuery {
    #[param(inline)]
    dataset: GymDataset,
    #[param(inline)]
    format: Format,
    /// First local day (default: 364 days before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
}

/// `GET /api/analytics/gyms/{gym_id}/export`: a gym's analytics as CSV or Parquet.
#[utoipa::path(
    get, path = "/api/analytics/gyms/{gym_id}/export", tag = "analytics",
    summary = "A gym's analytics (daily metrics, bookings by hour, cohorts, revenue) as CSV or Parquet, streamed",
    params(("gym_id" = Uuid, Path, description = "The gym"), GymExportQuery),
    responses((status = 200, description = "The file", content(
        (String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet")))),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn gym_export(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(gym_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<GymExportQuery>,
) -> Result<Response, ApiError> {
    business::may_read_gym(&user, gym_id)?;
    let (from, to) = range(q.from, q.to, Duration::days(365))?;
    let dataset = match q.dataset {
        GymDataset::Daily => &GYM_DAILY,
        GymDataset::BookingsByHour => &GYM_HOURS,
        GymDataset::Cohorts => &GYM_COHORTS,
        GymDataset::Revenue => &REVENUE,
    };
    Ok(stream(state.pool, dataset, (gym_id, from, to), q.format))
}
