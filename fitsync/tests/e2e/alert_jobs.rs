//! Two alerts jobs in one consumer group, as two replicas run: every record signal,
//! each published twice, becomes one inbox row, and each recipient's numbers run 1..n
//! with no gap and no repeat, when one job is aborted once a quarter of the alerts are
//! stored (its partitions move to the other, which replays what it had not committed).
//! The group's offsets lock makes the two jobs' batches take turns; the test does not
//! check which job handled which batch.

use std::time::Duration;

use chrono::Utc;
use fitsync_stream_jobs::AlertsJob;
use futures::StreamExt;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{eventually, TestEnv};

/// Record signals, each for one client and one exercise (so no cooldown applies).
const SIGNALS: i64 = 1200;
const CLIENTS: u128 = 40;
/// Each trainer coaches clients on every partition: both jobs number their rows.
const TRAINERS: u128 = 4;

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_alerts_jobs_share_the_signals_and_a_killed_one_loses_and_repeats_nothing() {
    let env = TestEnv::new().await;
    let settings = &env.settings;
    let prefix = &settings.kafka.topic_prefix;
    let topics: Vec<(String, bool)> = ["alerts", "schedule", "training", "notifications"]
        .iter()
        .map(|t| (format!("{prefix}fitsync.{t}"), false))
        .collect();
    fitsync_platform::kafka::ensure_topics(&settings.kafka, &topics)
        .await
        .unwrap();
    let topic = format!("{prefix}fitsync.alerts");
    let producer: FutureProducer = fitsync_platform::kafka::producer_config(&settings.kafka)
        .create()
        .unwrap();
    let now = Utc::now();
    let mut sent = futures::stream::FuturesUnordered::new();
    for i in 0..SIGNALS {
        let n = u128::try_from(i).unwrap();
        let client = Uuid::from_u128(0x4000_8000_0000_0000_0000 + n % CLIENTS);
        let trainer = Uuid::from_u128(0x5000_8000_0000_0000_0000 + n % CLIENTS % TRAINERS);
        let event = json!({
            "specversion": "1.0", "id": Uuid::now_v7(), "source": "/fitsync/analytics",
            "type": fitsync_events::PERSONAL_RECORD_V1, "subject": client.to_string(),
            "time": now, "datacontenttype": "application/json",
            "data": {"client_id": client, "exercise": format!("exercise-{i}"),
                     "e1rm_kg": 120.0, "previous_kg": 110.0, "set_id": Uuid::now_v7(),
                     "achieved_at": now, "trainers": [trainer]},
        });
        let payload = serde_json::to_vec(&event).unwrap();
        // Twice, as a re-publishing producer would: the second must add nothing.
        for _ in 0..2 {
            let (producer, topic, key, payload) = (
                producer.clone(),
                topic.clone(),
                client.to_string(),
                payload.clone(),
            );
            sent.push(async move {
                producer
                    .send(
                        FutureRecord::to(&topic).key(&key).payload(&payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
            });
        }
    }
    while let Some(r) = sent.next().await {
        r.unwrap();
    }

    let pool = env.notifications_db();
    let job =
        || AlertsJob::new(pool.clone(), settings.kafka.clone(), settings.jobs.clone()).unwrap();
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = tokio::spawn(job().run(stop_a.clone()));
    let b = tokio::spawn(job().run(stop_b.clone()));
    eventually(120, "a quarter of the alerts", || async {
        (count(&pool, "select count(*) from inbox").await >= SIGNALS / 4).then_some(())
    })
    .await;
    // Killed, not stopped: whatever batch it had in flight is never committed.
    a.abort();
    let _ = a.await;
    eventually(180, "every alert", || async {
        (count(&pool, "select count(*) from inbox").await >= SIGNALS).then_some(())
    })
    .await;
    stop_b.cancel();
    b.await.unwrap().unwrap();
    drop(stop_a);

    assert_eq!(
        count(&pool, "select count(*) from inbox").await,
        SIGNALS,
        "one row a signal"
    );
    assert_eq!(
        count(
            &pool,
            "select count(distinct (user_id, dedup_key)) from inbox"
        )
        .await,
        SIGNALS
    );
    // Each trainer's rows numbered 1..n: no gap, no repeat.
    let numbered: Vec<(Uuid, i64, i64, i64)> = sqlx::query_as(
        "select user_id, count(*), count(distinct seq), max(seq) from inbox group by user_id order by user_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(numbered.len(), usize::try_from(TRAINERS).unwrap());
    for (trainer, rows, distinct, max) in numbered {
        assert_eq!(
            rows,
            SIGNALS / i64::try_from(TRAINERS).unwrap(),
            "{trainer}"
        );
        assert_eq!(
            (distinct, max),
            (rows, rows),
            "{trainer}: numbered 1..{rows}"
        );
    }
}
