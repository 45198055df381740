//! Access removal is immediate and ordered: an ended relationship stops granting access
//! at once with the broker down; a projection that falls too far behind fails closed
//! for everyone but the data's owner; and the projection orders changes by the users
//! database's version, so neither a skewed clock nor a stale copy can revive access.

use std::time::Duration;

use chrono::Utc;
use fitsync::Target;
use fitsync_events::{
    CloudEvent, RelationshipChanged, RELATIONSHIP_ENDED_V1, RELATIONSHIP_STARTED_V1,
};
use rdkafka::{
    producer::{BaseProducer, BaseRecord, Producer},
    ClientConfig,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{eventually, PrivateBroker, TestEnv},
    matrix::{refreshed, train},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_ends_at_once_with_the_broker_down_and_a_stale_projection_fails_closed() {
    let mut env = TestEnv::new().await;
    let mut broker = PrivateBroker::start().await;
    env.settings.kafka.brokers = broker.brokers();
    env.settings.auth.access_max_staleness_secs = 5;
    let app = env.start(&[Target::All]).await;
    let owner = app.register("client").await;
    let leaving = app.register("trainer").await;
    let staying = app.register("trainer").await;
    let admin = app.admin(&env).await;
    let ended = train(&app, &leaving, &owner).await;
    train(&app, &staying, &owner).await;
    // And a gym the owner belongs to.
    let gym_owner = app.register("gym").await;
    let gym: Value = app
        .http
        .post(app.url("/api/gyms"))
        .bearer_auth(&gym_owner.token)
        .json(&json!({"name": "Access Gym"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gym_id = gym["id"].as_str().unwrap().to_owned();
    let gym_owner = refreshed(&app, gym_owner).await;
    let invitation: Value = app
        .http
        .post(app.url(&format!("/api/gyms/{gym_id}/invitations")))
        .bearer_auth(&gym_owner.token)
        .json(&json!({"email": owner.email, "role": "client"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let joined = app
        .http
        .post(app.url(&format!(
            "/api/gyms/invitations/{}/accept",
            invitation["id"].as_str().unwrap()
        )))
        .bearer_auth(&owner.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    let sets = format!("/api/workouts/sets?client_id={}", owner.id);
    // Both trainers and the gym read, through the projection (the positive control).
    for trainer in [&leaving, &staying, &gym_owner] {
        eventually(60, "the trainer's access projected", || async {
            (app.get(trainer, &sets).await.status() == 200).then_some(())
        })
        .await;
    }

    broker.kill();
    let end = app
        .http
        .post(app.url(&format!("/api/users/relationships/{ended}/end")))
        .bearer_auth(&owner.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), 200, "ending works with the broker down");
    // The very next request: no waiting for relay → Kafka → projector.
    assert_eq!(
        app.get(&leaving, &sets).await.status(),
        403,
        "the ended relationship grants nothing, at once"
    );
    // Leaving the gym, likewise.
    let left = app
        .http
        .post(app.url(&format!("/api/gyms/{gym_id}/members/{}/remove", owner.id)))
        .bearer_auth(&owner.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 204);
    assert_eq!(
        app.get(&gym_owner, &sets).await.status(),
        403,
        "the ended membership grants nothing, at once"
    );
    assert_eq!(
        app.get(&staying, &sets).await.status(),
        200,
        "the other trainer reads while the projection is within its bound"
    );

    // No heartbeats with the broker down: past its bound the projection grants nothing.
    let stale: Value = eventually(30, "the stale projection to fail closed", || async {
        let response = app.get(&staying, &sets).await;
        if response.status() == 503 {
            response.json().await.ok()
        } else {
            None
        }
    })
    .await;
    assert_eq!(stale["status"], 503, "{stale}");
    assert_eq!(
        app.get(&owner, &sets).await.status(),
        200,
        "the owner reads"
    );
    assert_eq!(app.get(&admin, &sets).await.status(), 200, "admins read");

    broker.resume().await;
    eventually(120, "the projection current again", || async {
        (app.get(&staying, &sets).await.status() == 200).then_some(())
    })
    .await;
    assert_eq!(app.get(&leaving, &sets).await.status(), 403);
    let active: bool = sqlx::query_scalar(
        "select active from access_grants where kind = 'trainer' and grantee = $1 and subject = $2",
    )
    .bind(leaving.id)
    .bind(owner.id)
    .fetch_one(&env.training_db())
    .await
    .unwrap();
    assert!(
        !active,
        "the end reached the projection once the broker was back"
    );
    app.stop().await;
}

/// A relationship change as the users service would publish it.
fn change(trainer: Uuid, client: Uuid, ended: bool, version: i64, at_offset_hours: i64) -> String {
    let event_type = if ended {
        RELATIONSHIP_ENDED_V1
    } else {
        RELATIONSHIP_STARTED_V1
    };
    serde_json::to_string(&CloudEvent::new(
        "/fitsync/users",
        event_type,
        client.to_string(),
        RelationshipChanged {
            relationship_id: Uuid::new_v4(),
            trainer_id: trainer,
            client_id: client,
            at: Utc::now() + chrono::Duration::hours(at_offset_hours),
            version,
        },
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projection_orders_changes_by_version_not_by_clocks() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Projector]).await;
    let (trainer, client, control) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Started (v1); ended (v3) by a server whose clock is an hour behind; then a stale
    // copy of an older start (v2) from a server an hour ahead. And, as the positive
    // control that they were applied, a start of another pair after them, on the same
    // partition (the same key).
    let events = [
        (client, change(trainer, client, false, 1, 0)),
        (client, change(trainer, client, true, 3, -1)),
        (client, change(trainer, client, false, 2, 1)),
        (client, change(trainer, control, false, 4, 0)),
    ];
    let brokers = env.settings.kafka.brokers.clone();
    let topic = env.topic("fitsync.users");
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        for (key, payload) in &events {
            let key = key.to_string();
            producer
                .send(BaseRecord::to(&topic).key(&key).payload(payload))
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    })
    .await
    .unwrap();
    let training = env.training_db();
    let grant = |subject: Uuid| {
        let training = training.clone();
        async move {
            sqlx::query_as::<_, (bool, i64)>(
                "select active, version from access_grants where grantee = $1 and subject = $2",
            )
            .bind(trainer)
            .bind(subject)
            .fetch_optional(&training)
            .await
            .unwrap()
        }
    };
    eventually(60, "the control pair projected", || async {
        grant(control).await.filter(|(active, _)| *active)
    })
    .await;
    assert_eq!(
        grant(client).await,
        Some((false, 3)),
        "the end (v3) stands over the later-dated stale start (v2)"
    );
    app.stop().await;
}
