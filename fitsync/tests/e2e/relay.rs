//! Relay leadership: two relay processes on one outbox; the leader is killed mid-batch,
//! then the next leader's database session is terminated. Another takes over within
//! seconds each time, nothing is lost, the first copy of every event arrives in the
//! order it was written per client, and once leadership has settled no event is
//! published twice (a deposed leader that kept publishing would duplicate them). And the
//! outbox's writing half: events enqueued together keep their order.

use std::collections::{HashMap, HashSet};

use fitsync::Target;
use fitsync_events::CloudEvent;
use rdkafka::Message;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    crash::aborted,
    harness::{eventually, outbox_drained, Account, TestApp, TestEnv},
};

/// Logs `n` sets round-robin over `clients`; each client's weights count up from
/// `*next` (one sequence per client), so order can be checked from Kafka alone.
async fn log(app: &TestApp, clients: &[Account], next: &mut HashMap<Uuid, u32>, n: usize) {
    for i in 0..n {
        let who = &clients[i % clients.len()];
        let seq = next.entry(who.id).or_insert(0);
        *seq += 1;
        let body = json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": f64::from(*seq)});
        assert_eq!(app.log_set(who, body).await.status(), 201);
    }
}

async fn drained(env: &TestEnv, what: &str) {
    outbox_drained(&env.training_db(), 60, what).await;
}

/// Waits until `n` relay sessions (leader and standbys) are open on the training database.
async fn relay_sessions(env: &TestEnv, n: i64) {
    let training = env.training_db();
    eventually(60, &format!("{n} relay sessions"), || async {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where application_name = 'fitsync-relay-training' and datname = current_database()",
        )
        .fetch_one(&training)
        .await
        .ok()?;
        (open == n).then_some(())
    })
    .await;
}

/// The backend holding the relay's advisory lock in the training database.
async fn leader_pid(env: &TestEnv) -> i32 {
    let training = env.training_db();
    eventually(30, "a relay to lead", || async {
        sqlx::query_scalar::<_, i32>(
            "select l.pid from pg_locks l join pg_database d on d.oid = l.database
             where l.locktype = 'advisory' and l.granted and d.datname = current_database()",
        )
        .fetch_optional(&training)
        .await
        .ok()
        .flatten()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_leader_is_replaced_within_seconds_and_nothing_is_lost_or_reordered() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users, Target::Training]).await;
    let clients = [
        app.register("client").await,
        app.register("client").await,
        app.register("client").await,
        app.register("client").await,
    ];
    let mut next = HashMap::new();
    let small_batches = ("FITSYNC__RELAY__BATCH_SIZE", "10");

    // Relay A leads; relay B waits as a standby (its session is open, its lock attempts
    // fail). Then writes arrive: A dies mid-batch (after Kafka acknowledged its 4th batch,
    // before deleting it), and B takes over.
    let relay_a = env.spawn_process(
        "relay",
        &[
            small_batches,
            ("FITSYNC_FAULT", "relay.training.before_delete:4"),
        ],
    );
    let first_leader = leader_pid(&env).await;
    let mut relay_b = env.spawn_process("relay", &[small_batches]);
    relay_sessions(&env, 2).await;
    log(&app, &clients, &mut next, 60).await;
    aborted(relay_a).await;
    drained(&env, "relay B to take over and drain the outbox").await;
    log(&app, &clients, &mut next, 40).await;
    drained(&env, "relay B to publish new writes").await;
    let second_leader = leader_pid(&env).await;
    assert_ne!(first_leader, second_leader);

    // A third relay joins as standby; the leader's session is terminated under it while
    // writes are flowing (a copy published by the deposed leader in that moment is allowed).
    let mut relay_c = env.spawn_process("relay", &[small_batches]);
    relay_sessions(&env, 2).await;
    let writing = log(&app, &clients, &mut next, 40);
    let terminating = async {
        let terminated: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
            .bind(second_leader)
            .fetch_one(&env.training_db())
            .await
            .unwrap();
        assert!(terminated);
    };
    tokio::join!(writing, terminating);
    drained(&env, "the writes during the takeover published").await;
    let third_leader = eventually(30, "a new leader session", || async {
        let pid = leader_pid(&env).await;
        (pid != second_leader).then_some(pid)
    })
    .await;
    assert_ne!(third_leader, second_leader);

    // From here on leadership is settled: every write is published exactly once.
    let settled: HashSet<Uuid> = {
        let before: i64 = sqlx::query_scalar("select count(*) from workout_sets")
            .fetch_one(&env.training_db())
            .await
            .unwrap();
        log(&app, &clients, &mut next, 80).await;
        drained(&env, "the new leader to publish").await;
        sqlx::query_scalar("select id from workout_sets order by logged_at offset $1")
            .bind(before)
            .fetch_all(&env.training_db())
            .await
            .unwrap()
            .into_iter()
            .collect()
    };
    assert_eq!(settled.len(), 80);

    let total: usize = next.values().map(|n| *n as usize).sum();
    let messages = env.read_topic(&env.topic("fitsync.training"), total).await;
    let mut seen = HashSet::new();
    let mut per_client: HashMap<Uuid, Vec<u32>> = HashMap::new();
    let mut copies: HashMap<Uuid, usize> = HashMap::new();
    let mut by_offset: Vec<_> = messages.iter().collect();
    by_offset.sort_by_key(|m| (m.partition(), m.offset()));
    for m in by_offset {
        let event: CloudEvent<Value> = CloudEvent::from_slice(m.payload().unwrap()).unwrap();
        let set_id: Uuid = event.data["set_id"].as_str().unwrap().parse().unwrap();
        *copies.entry(set_id).or_default() += 1;
        if seen.insert(event.id) {
            let client: Uuid = event.data["client_id"].as_str().unwrap().parse().unwrap();
            per_client
                .entry(client)
                .or_default()
                .push(event.data["weight_kg"].as_f64().unwrap() as u32);
        }
    }
    assert!(
        messages.len() > total,
        "the relay killed mid-batch re-published (the copies a consumer must drop): {} messages for {total} sets",
        messages.len()
    );
    for who in &clients {
        let want: Vec<u32> = (1..=next[&who.id]).collect();
        assert_eq!(
            per_client.get(&who.id),
            Some(&want),
            "client {}: every event, first copies in the order written",
            who.id
        );
    }
    let twice: Vec<&Uuid> = settled.iter().filter(|id| copies[*id] != 1).collect();
    assert!(
        twice.is_empty(),
        "after the takeover {} events were published more than once: a deposed leader kept publishing",
        twice.len()
    );
    for relay in [&mut relay_b, &mut relay_c] {
        relay.kill().unwrap();
        relay.wait().unwrap();
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_enqueued_together_are_written_in_their_order() {
    let env = TestEnv::new().await;
    let db = env.progress_db();
    // Subjects in descending order: an insert ordered by key would reverse them.
    let events: Vec<CloudEvent<Value>> = (0..5)
        .map(|n| {
            CloudEvent::new(
                "/fitsync/test",
                "fitsync.test.ordered.v1",
                format!("subject-{}", 4 - n),
                json!({"n": n}),
            )
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    fitsync_platform::outbox::enqueue_all(&mut tx, fitsync_events::Topic::Alerts, &events)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows: Vec<(String, String, Value)> =
        sqlx::query_as("select topic, message_key, payload from outbox order by id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(rows.len(), events.len());
    for ((topic, key, payload), event) in rows.iter().zip(&events) {
        assert_eq!(topic, fitsync_events::Topic::Alerts.suffix());
        assert_eq!(key, &event.subject);
        assert_eq!(payload["id"], json!(event.id), "the event in its place");
        assert_eq!(payload["data"], event.data);
    }
}
