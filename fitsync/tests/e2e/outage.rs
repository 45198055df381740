//! Kafka killed while clients keep logging, then restarted: the API keeps accepting,
//! events wait in the outbox, and after the restart every set is counted exactly once.

use fitsync::Target;
use serde_json::json;

use crate::harness::{count, eventually, outbox_drained, Account, PrivateBroker, TestApp, TestEnv};

async fn log(app: &TestApp, who: &Account, n: usize, kg: f64) {
    for i in 0..n {
        let body = json!({"exercise": "barbell-squat", "reps": 1 + i % 5, "weight_kg": kg, "performed_at": "2026-11-24T18:00:00Z"});
        let response = app.log_set(who, body).await;
        assert_eq!(response.status(), 201, "writes go on whatever Kafka does");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_nothing_and_counts_nothing_twice() {
    let mut env = TestEnv::new().await;
    let mut broker = PrivateBroker::start().await;
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
    let waiting = count(&training, "select count(*) from outbox").await;
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
    assert_eq!(count(&training, "select count(*) from outbox").await, 0);
    app.stop().await;
}

/// A burst of `n` sets for `clients` written straight into the training database (set
/// rows and their outbox rows in one transaction, as the API writes them), so that the
/// relay has thousands of messages in flight at once.
async fn burst(env: &TestEnv, clients: &[uuid::Uuid], n: i64, round: i64) {
    sqlx::query(
        "with sets as (
             select gen_random_uuid() as id, ($1::uuid[])[1 + i % array_length($1, 1)] as client,
                    1 + i % 5 as reps, (40 + (i % 100) + $3 * 100)::float8 as kg,
                    timestamptz '2026-11-24 18:00:00+00' as at
             from generate_series(0, $2 - 1) i
         ), written as (
             insert into workout_sets (id, client_id, exercise, reps, weight_kg, performed_at)
             select id, client, 'barbell-squat', reps, kg, at from sets returning id
         )
         insert into outbox (topic, message_key, payload)
         select 'fitsync.training', client::text, json_build_object(
             'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/fitsync/training',
             'type', 'fitsync.workout.set_logged.v1', 'subject', client::text,
             'time', now(), 'datacontenttype', 'application/json',
             'data', json_build_object('set_id', id, 'client_id', client, 'exercise', 'barbell-squat',
                                       'reps', reps, 'weight_kg', kg, 'rir', null, 'performed_at', at))
         from sets",
    )
    .bind(clients)
    .bind(n)
    .bind(round)
    .execute(&env.training_db())
    .await
    .unwrap();
}

/// A broker killed outright loses what sits in its socket buffers, so a `kill -9` rarely
/// leaves a copy behind (the publish either landed and was acknowledged, or never
/// landed). What does leave copies is a broker that stops answering while a publish is
/// in flight — a long GC pause, a partition: the relay gives up on the acknowledgement
/// and publishes the rows again, then the broker appends the first copies too. This
/// test freezes the broker (`SIGSTOP`) mid-publish for longer than the relay waits,
/// then lets it go on, and shows the copies in Kafka and each set counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_from_a_broker_frozen_mid_publish_reach_kafka_and_are_counted_once() {
    let mut env = TestEnv::new().await;
    let broker = PrivateBroker::start().await;
    env.settings.kafka.brokers = broker.brokers();
    // Unacknowledged messages are given up on quickly and published again: the relay's
    // retry, not the idempotent producer's, is what puts copies into Kafka.
    env.settings.relay.message_timeout_ms = 2000;
    env.settings.relay.batch_size = 5000;
    let app = env.start(&[Target::All]).await;
    let clients: Vec<uuid::Uuid> = {
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(app.register("client").await.id);
        }
        ids
    };
    let training = env.training_db();
    let topic = env.topic("fitsync.training");
    let per_round = 30_000;
    let mut rounds = 0;
    let mut messages = Vec::new();
    // The freeze lands mid-publish by watching the outbox drain; if a round happened to
    // leave no copy behind (it fell between acknowledgements), another round runs.
    while rounds < 3 {
        burst(&env, &clients, per_round, rounds).await;
        rounds += 1;
        eventually(60, "the relay to be publishing", || async {
            let n: i64 = sqlx::query_scalar("select count(*) from outbox")
                .fetch_one(&training)
                .await
                .ok()?;
            (n < per_round).then_some(())
        })
        .await;
        broker.freeze();
        let waiting = count(&training, "select count(*) from outbox").await;
        // Longer than the relay waits for an acknowledgement: it gives up on the batch
        // in flight (those rows stay in the outbox, to be published again).
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        broker.thaw();
        outbox_drained(&training, 180, "the outbox drained").await;
        let total = (per_round * rounds) as usize;
        messages = env.read_topic(&topic, total).await;
        if waiting > 0 && messages.len() > total {
            break;
        }
    }
    let total = per_round * rounds;
    let distinct: std::collections::HashSet<String> = messages
        .iter()
        .map(|m| {
            let event: serde_json::Value =
                serde_json::from_slice(rdkafka::Message::payload(m).unwrap()).unwrap();
            event["data"]["set_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(distinct.len() as i64, total, "nothing lost");
    assert!(
        messages.len() as i64 > total,
        "copies reached Kafka: {} messages for {total} sets",
        messages.len()
    );

    // The ledger drops the copies: every set counted once, volume exact.
    let progress = env.progress_db();
    eventually(180, "every set counted", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from set_facts")
            .fetch_one(&progress)
            .await
            .ok()?;
        (n == total).then_some(())
    })
    .await;
    // Σ weight × reps over what was written, from the rows themselves.
    let (expected, sets): (f64, i64) =
        sqlx::query_as("select sum(weight_kg * reps)::float8, count(*) from workout_sets")
            .fetch_one(&training)
            .await
            .unwrap();
    let (volume, counted): (f64, i64) =
        sqlx::query_as("select sum(volume_kg)::float8, sum(sets)::int8 from weekly_volume")
            .fetch_one(&progress)
            .await
            .unwrap();
    assert_eq!((volume, counted), (expected, sets));
    app.stop().await;
}
