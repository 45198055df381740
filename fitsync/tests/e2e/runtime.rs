//! A broker outage must never stop the API: with every consumer of `all` running (the
//! analytics job, two access projectors, the search indexer, the email sender, two
//! relays), the broker is killed and restarted at random moments while requests keep
//! flowing, and `/healthz` and writes keep answering within a second throughout.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use fitsync::Target;
use fitsync_events::CloudEvent;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rdkafka::{
    producer::{BaseProducer, BaseRecord, Producer},
    ClientConfig,
};
use serde_json::json;

use crate::harness::{eventually, PrivateBroker, TestEnv};

/// Valid events of a type no job uses, `n` to each topic: every consumer has a backlog
/// to work through (and commit after each batch) when the broker dies.
async fn backlog(env: &TestEnv, brokers: String, n: usize) {
    let topics: Vec<String> = ["fitsync.users", "fitsync.notifications"]
        .iter()
        .map(|t| env.topic(t))
        .collect();
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "5")
            .create()
            .unwrap();
        for i in 0..n {
            let event = CloudEvent::new(
                "/test/runtime",
                "fitsync.test.filler.v1",
                format!("filler-{i}"),
                json!({"i": i}),
            );
            let payload = serde_json::to_vec(&event).unwrap();
            for topic in &topics {
                let key = event.subject.as_str();
                while let Err((e, _)) =
                    producer.send(BaseRecord::to(topic).key(key).payload(&payload))
                {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "{e}"
                    );
                    producer.poll(Duration::from_millis(10));
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    })
    .await
    .unwrap();
}

/// The slowest answer a probe may get. Requests here take milliseconds; a blocked runtime
/// answers in minutes or never. Three seconds leave room for a two-core machine busy
/// producing and indexing the backlog (a write took 1.04 s there once), and none for a
/// runtime blocked on the dead broker.
const BOUND: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
struct Probes {
    sent: usize,
    slowest: Duration,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_within_seconds_while_the_broker_dies_again_and_again() {
    let mut env = TestEnv::alone().await;
    let mut broker = PrivateBroker::start().await;
    env.settings.kafka.brokers = broker.brokers();
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let progress = env.progress_db();
    let counted = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from set_facts")
            .fetch_one(&progress)
            .await
            .unwrap_or(0)
    };

    // Every consumer is up and consuming before the first kill (the positive control).
    let first = app
        .log_set(
            &client,
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100.0}),
        )
        .await;
    assert_eq!(first.status(), 201);
    eventually(90, "the pipeline to count a first set", || async {
        (counted().await == 1).then_some(())
    })
    .await;

    let running = Arc::new(AtomicBool::new(true));
    let probing = {
        let running = running.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let health = app.url("/healthz");
        let sets = app.url("/api/workouts/sets");
        let token = client.token.clone();
        tokio::spawn(async move {
            let mut probes = Probes::default();
            let mut i = 0u32;
            while running.load(Ordering::Relaxed) {
                i += 1;
                let started = Instant::now();
                let health = http.get(&health).send().await;
                let health_took = started.elapsed();
                let started = Instant::now();
                let write = http
                    .post(&sets)
                    .bearer_auth(&token)
                    .json(&json!({"exercise": "barbell-deadlift", "reps": 1 + i % 5, "weight_kg": 140.0}))
                    .send()
                    .await;
                let write_took = started.elapsed();
                probes.sent += 1;
                probes.slowest = probes.slowest.max(health_took).max(write_took);
                match (health, write) {
                    (Ok(h), Ok(w)) if h.status() == 200 && w.status() == 201 => {}
                    (h, w) => probes.failures.push(format!(
                        "probe {i}: healthz {:?}, write {:?}",
                        h.map(|r| r.status()),
                        w.map(|r| r.status())
                    )),
                }
                if health_took > BOUND || write_took > BOUND {
                    probes.failures.push(format!(
                        "probe {i}: healthz took {health_took:?}, the write {write_took:?}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            probes
        })
    };

    // Kills at random moments: while batches are being processed, committed, retried.
    let mut rng = StdRng::seed_from_u64(6);
    for _ in 0..4 {
        backlog(&env, broker.brokers(), 10_000).await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
        broker.kill();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(2000..6000))).await;
        broker.resume().await;
    }
    // Two more seconds of probes after the last restart, while the consumers reconnect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    let probes = probing.await.unwrap();

    assert!(probes.sent > 50, "the probes ran ({} sent)", probes.sent);
    assert!(
        probes.failures.is_empty(),
        "{} of {} probes failed or were slower than {BOUND:?} (slowest {:?}):\n{}",
        probes.failures.len(),
        probes.sent,
        probes.slowest,
        probes.failures.join("\n")
    );
    // And nothing was lost: every set written is counted, once.
    let written: i64 = sqlx::query_scalar("select count(*) from workout_sets")
        .fetch_one(&env.training_db())
        .await
        .unwrap();
    assert_eq!(written, 1 + probes.sent as i64);
    eventually(180, "every set counted once", || async {
        (counted().await == written).then_some(())
    })
    .await;
    app.stop().await;
}
