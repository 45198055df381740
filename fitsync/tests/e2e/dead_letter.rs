//! A message a job cannot decode lands in the dead-letter topic with its reason; the job
//! goes on.

use std::time::Duration;

use fitsync::Target;
use fitsync_platform::kafka;
use rdkafka::{
    producer::{FutureProducer, FutureRecord},
    Message,
};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{eventually, header, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_dead_lettered_and_the_job_goes_on() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let topic = env.topic("fitsync.training");
    kafka::ensure_topics(&env.settings.kafka, &[(topic.clone(), false)])
        .await
        .unwrap();

    let envelope = |data: serde_json::Value, subject: &str| {
        json!({
            "specversion": "1.0", "id": Uuid::new_v4(), "source": "/fitsync/training",
            "type": "fitsync.workout.set_logged.v1", "subject": subject,
            "time": "2026-11-24T18:00:00Z", "datacontenttype": "application/json", "data": data,
        })
        .to_string()
    };
    let set = |reps: serde_json::Value| {
        json!({"set_id": Uuid::new_v4(), "client_id": client.id, "exercise": "barbell-squat",
               "reps": reps, "weight_kg": 100.0, "rir": null, "performed_at": "2026-11-24T18:00:00Z"})
    };
    let subject = client.id.to_string();
    let bad = [
        ("not json", "not json".to_owned()),
        ("wrong type", envelope(set(json!("five")), &subject)),
        ("out of range", envelope(set(json!(-3)), &subject)),
        (
            "wrong subject",
            envelope(set(json!(5)), &Uuid::new_v4().to_string()),
        ),
    ];
    let producer: FutureProducer = kafka::producer_config(&env.settings.kafka)
        .create()
        .unwrap();
    for (_, payload) in &bad {
        producer
            .send(
                FutureRecord::to(&topic).key(&subject).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    // A good set after the bad ones is still counted.
    let response = app
        .log_set(
            &client,
            json!({"exercise": "barbell-deadlift", "reps": 5, "weight_kg": 150}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let progress = env.progress_db();
    eventually(60, "the good set counted", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from set_facts")
            .fetch_one(&progress)
            .await
            .ok()?;
        (n == 1).then_some(())
    })
    .await;

    // Analytics rejects all four; the indexer and the alerts job (which reads the
    // training topic for comments) only what is not an envelope.
    let dead = env.read_topic(&env.topic("fitsync.deadletter"), 6).await;
    let analytics: Vec<_> = dead
        .iter()
        .filter(|m| header(m, "fitsync.dlq.job").as_deref() == Some("analytics"))
        .collect();
    let indexer: Vec<_> = dead
        .iter()
        .filter(|m| header(m, "fitsync.dlq.job").as_deref() == Some("indexer"))
        .collect();
    let inbox = dead
        .iter()
        .filter(|m| header(m, "fitsync.dlq.job").as_deref() == Some("alerts"))
        .count();
    assert_eq!(
        (analytics.len(), indexer.len(), inbox),
        (4, 1, 1),
        "dead letters: {}",
        dead.len()
    );
    for (m, (what, payload)) in analytics.iter().zip(&bad) {
        assert_eq!(
            m.payload(),
            Some(payload.as_bytes()),
            "{what}: the original bytes are kept"
        );
        assert_eq!(m.key(), Some(subject.as_bytes()));
        assert_eq!(
            header(m, "fitsync.dlq.topic").as_deref(),
            Some(topic.as_str())
        );
        assert!(header(m, "fitsync.dlq.offset").is_some());
        let reason = header(m, "fitsync.dlq.reason").unwrap();
        assert!(!reason.is_empty(), "{what}");
    }
    assert!(header(analytics[0], "fitsync.dlq.reason")
        .unwrap()
        .contains("CloudEvents"));
    assert!(header(analytics[2], "fitsync.dlq.reason")
        .unwrap()
        .contains("reps"));
    assert!(header(analytics[3], "fitsync.dlq.reason")
        .unwrap()
        .contains("subject"));
    assert_eq!(indexer[0].payload(), Some("not json".as_bytes()));

    // And the offsets moved past them: nothing is re-read after a restart.
    let next: i64 = sqlx::query_scalar(
        "select sum(next_offset)::bigint from consumer_offsets where topic = $1",
    )
    .bind(&topic)
    .fetch_one(&progress)
    .await
    .unwrap();
    assert_eq!(next, 5);
    app.stop().await;
}
