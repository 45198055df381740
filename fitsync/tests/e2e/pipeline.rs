//! API → outbox → Kafka → Polars → PostgreSQL → API, and API → Kafka → OpenSearch.

use fitsync::Target;
use fitsync_events::{schema_for, ENVELOPE_SCHEMA, HEARTBEAT_V1};
use opensearch::{http::transport::Transport, OpenSearch, SearchParts};
use rdkafka::Message;
use serde_json::{json, Value};

use crate::harness::{brzycki, epley, eventually, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_set_reaches_the_progress_endpoint_and_search() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;

    let sets = [
        ("barbell-squat", 5, 100.0, Some(2)),
        ("barbell-squat", 3, 110.0, Some(0)),
        ("barbell-bench-press-medium-grip", 8, 60.0, None),
    ];
    for (exercise, reps, kg, rir) in sets {
        let body = json!({"exercise": exercise, "reps": reps, "weight_kg": kg, "rir": rir, "performed_at": "2026-11-24T18:00:00Z"});
        let response = app.log_set(&client, body).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    let path = format!("/api/progress/{}/e1rm", client.id);
    let e1rm: Value = eventually(60, "e1RM of both exercises", || async {
        let body: Value = app.get(&client, &path).await.json().await.ok()?;
        (body["exercises"].as_array()?.len() == 2).then_some(body)
    })
    .await;
    // Sorted by slug: the bench press, then the squat.
    let squat = &e1rm["exercises"][1];
    assert_eq!(squat["exercise"], "barbell-squat");
    // 100 × (5 + 2 in reserve) beats 110 × 3 to failure.
    assert!((squat["e1rm_kg"].as_f64().unwrap() - epley(100.0, 7)).abs() < 1e-9);
    assert!((squat["e1rm_brzycki_kg"].as_f64().unwrap() - brzycki(100.0, 7)).abs() < 1e-9);
    let bench = &e1rm["exercises"][0];
    assert_eq!(bench["exercise"], "barbell-bench-press-medium-grip");
    assert!((bench["e1rm_kg"].as_f64().unwrap() - epley(60.0, 8)).abs() < 1e-9);

    let volume: Value = app
        .get(&client, &format!("/api/progress/{}/volume", client.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        volume["weeks"],
        json!([{"week_start": "2026-11-23", "volume_kg": 500.0 + 330.0 + 480.0, "sets": 3}])
    );

    // Every event on the wire matches its JSON Schema.
    let training = env.read_topic(&env.topic("fitsync.training"), 3).await;
    // The users topic also carries the relay's heartbeats (validated below too).
    // (A reader may see the partitions in turn: it reads until the registration is in.)
    let not_heartbeats = |users: &[rdkafka::message::OwnedMessage]| {
        users
            .iter()
            .filter(|m| !String::from_utf8_lossy(m.payload().unwrap()).contains(HEARTBEAT_V1))
            .count()
    };
    let users = eventually(30, "the registration read", || async {
        let users = env.read_topic(&env.topic("fitsync.users"), 1).await;
        (not_heartbeats(&users) >= 1).then_some(users)
    })
    .await;
    let registrations = not_heartbeats(&users);
    assert_eq!((training.len(), registrations), (3, 1));
    let envelope =
        jsonschema::validator_for(&serde_json::from_str(ENVELOPE_SCHEMA).unwrap()).unwrap();
    for m in training.iter().chain(&users) {
        let event: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        assert!(envelope.is_valid(&event), "envelope: {event}");
        let schema: Value =
            serde_json::from_str(schema_for(event["type"].as_str().unwrap()).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&event["data"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?} in {event}");
        // Keyed by the aggregate: one client's events stay in one partition, in order.
        if event["type"] != HEARTBEAT_V1 {
            assert_eq!(m.key(), Some(event["subject"].as_str().unwrap().as_bytes()));
        }
    }
    let partitions: std::collections::HashSet<i32> =
        training.iter().map(|m| m.partition()).collect();
    assert_eq!(partitions.len(), 1);

    // The indexer made every event searchable, one document each.
    let search = OpenSearch::new(Transport::single_node(&env.settings.opensearch.url).unwrap());
    let index = format!("{}events", env.settings.opensearch.index_prefix);
    let subject = client.id.to_string();
    // Every event about the client has the client's id as its subject (and Kafka key):
    // the registration and the three sets.
    let hits: Value = eventually(60, "four events in OpenSearch", || async {
        let response = search
            .search(SearchParts::Index(&[&index]))
            .body(json!({"query": {"term": {"subject": subject}}, "sort": [{"time": "asc"}]}))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        (body["hits"]["total"]["value"].as_u64()? == 4).then_some(body)
    })
    .await;
    assert_eq!(
        hits["hits"]["hits"][0]["_source"]["type"],
        "fitsync.user.registered.v1"
    );
    let doc = &hits["hits"]["hits"][1];
    assert_eq!(doc["_source"]["type"], "fitsync.workout.set_logged.v2");
    assert_eq!(doc["_id"], doc["_source"]["id"]);
    assert_eq!(doc["_source"]["data"]["client_id"], subject);

    // Nothing left behind in the outbox.
    let pending: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&env.training_db())
        .await
        .unwrap();
    assert_eq!(pending, 0);
    app.stop().await;
}
