//! Kafka killed while clients keep logging, then restarted: the API keeps accepting,
//! events wait in the outbox, and after the restart every set is counted exactly once.

use fitsync::Target;
use serde_json::json;

use crate::harness::{eventually, Account, PrivateBroker, TestApp, TestEnv};

async fn log(app: &TestApp, who: &Account, n: usize, kg: f64) {
    for i in 0..n {
        let body = json!({"exercise": "back-squat", "reps": 1 + i % 5, "weight_kg": kg, "performed_at": "2026-11-24T18:00:00Z"});
        let response = app.log_set(who, body).await;
        assert_eq!(response.status(), 201, "writes go on whatever Kafka does");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_nothing_and_counts_nothing_twice() {
    let mut broker = PrivateBroker::start().await;
    let mut env = TestEnv::new().await;
    env.settings.kafka.brokers = broker.brokers();
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let progress = env.progress_db();
    let counted = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from set_facts")
            .fetch_one(&progress)
            .await
            .unwrap()
    };

    log(&app, &client, 20, 100.0).await;
    eventually(90, "the first 20 sets counted", || async {
        (counted().await == 20).then_some(())
    })
    .await;

    broker.kill();
    log(&app, &client, 30, 90.0).await;
    let training = env.training_db();
    let waiting: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&training)
        .await
        .unwrap();
    assert!(waiting > 0, "with Kafka down the events wait in the outbox");
    assert!(counted().await <= 20);

    broker.resume().await;
    log(&app, &client, 10, 80.0).await;
    eventually(180, "all 60 sets counted after the restart", || async {
        (counted().await == 60).then_some(())
    })
    .await;

    // Exactly once: Σ weight × reps over what was logged, and one row per set.
    let expected: f64 = (0..20).map(|i| 100.0 * f64::from(1 + i % 5)).sum::<f64>()
        + (0..30).map(|i| 90.0 * f64::from(1 + i % 5)).sum::<f64>()
        + (0..10).map(|i| 80.0 * f64::from(1 + i % 5)).sum::<f64>();
    let (volume, sets): (f64, i32) =
        sqlx::query_as("select volume_kg::float8, sets from weekly_volume where client_id = $1")
            .bind(client.id)
            .fetch_one(&progress)
            .await
            .unwrap();
    assert_eq!((volume, sets), (expected, 60));
    let pending: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&training)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    app.stop().await;
}
