//! Workout sessions end to end: a client carries out a planned workout as a session, its
//! sets (RIR or RPE, done or failed) shown beside the slots' targets; finishes it with
//! notes and perceived effort; their trainer comments and the client finds the comment in
//! their inbox (the notifications service, from the change stream); deleting the session
//! deletes its sets and the progress results follow. Strangers see and change nothing.

use chrono::Utc;
use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    harness::{call, count, epley, eventually, outbox_drained, trains_in_training, TestEnv},
    matrix::train,
};

fn e1rm_of(progress: &Value, exercise: &str) -> Option<f64> {
    progress["exercises"]
        .as_array()?
        .iter()
        .find(|e| e["exercise"] == exercise)?["e1rm_kg"]
        .as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_session_is_logged_beside_its_targets_commented_on_and_deleted_with_its_sets() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let stranger = app.register("client").await;
    let other_trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;

    // A program assigned from today: today's planned workout is squat day.
    let (_, template) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        Some(crate::programs::program(2, 100.0)),
    )
    .await;
    let assign =
        json!({"client_id": client.id, "start_date": Utc::now().date_naive(), "time_zone": "UTC"});
    let (status, assignment) = call(
        &app,
        &trainer,
        Method::POST,
        &format!(
            "/api/programs/{}/assignments",
            template["id"].as_str().unwrap()
        ),
        Some(assign),
    )
    .await;
    assert_eq!(status, 201, "{assignment}");
    let planned = assignment["planned"][0]["id"].as_str().unwrap().to_owned();

    // Others cannot start a session of it; the client can, once.
    let start = json!({"planned_workout_id": planned, "notes": "Felt fresh"});
    let (status, problem) = call(
        &app,
        &stranger,
        Method::POST,
        "/api/workouts",
        Some(start.clone()),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("planned_workout_id"))
    );
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/workouts",
        Some(start.clone()),
    )
    .await;
    assert_eq!(status, 403, "a trainer does not train for the client");
    let (status, workout) = call(
        &app,
        &client,
        Method::POST,
        "/api/workouts",
        Some(start.clone()),
    )
    .await;
    assert_eq!(status, 201, "{workout}");
    assert_eq!(workout["revision"], 1);
    let id = workout["id"].as_str().unwrap().to_owned();
    let (status, _) = call(&app, &client, Method::POST, "/api/workouts", Some(start)).await;
    assert_eq!(status, 409, "one session per planned workout");

    // The sets: squats by RIR (one failed), bench by RPE, and an extra exercise.
    let squat = |reps: i64, kg: f64, failed: bool| json!({"exercise": "back-squat", "reps": reps, "weight_kg": kg, "rir": 1, "failed": failed, "workout_id": id});
    for body in [
        squat(8, 100.0, false),
        squat(8, 100.0, false),
        squat(5, 100.0, true),
        json!({"exercise": "barbell-bench-press-medium-grip", "reps": 6, "weight_kg": 80, "rpe": 8.5, "workout_id": id}),
        json!({"exercise": "pullups", "reps": 10, "weight_kg": 0, "workout_id": id}),
    ] {
        let (status, set) = call(
            &app,
            &client,
            Method::POST,
            "/api/workouts/sets",
            Some(body),
        )
        .await;
        assert_eq!(status, 201, "{set}");
        assert_eq!(set["workout_id"], json!(id));
    }
    // An ad hoc squat outside the session, lighter.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        "/api/workouts/sets",
        Some(json!({"exercise": "back-squat", "reps": 5, "weight_kg": 90, "rir": 2})),
    )
    .await;
    assert_eq!(status, 201);

    // Bad input: both efforts, an RPE off the scale, another client's session.
    let training = env.training_db();
    let sets_before = count(&training, "select count(*) from workout_sets").await;
    for (body, field) in [
        (
            json!({"exercise": "back-squat", "reps": 5, "weight_kg": 90, "rir": 2, "rpe": 8}),
            "rpe",
        ),
        (
            json!({"exercise": "back-squat", "reps": 5, "weight_kg": 90, "rpe": 7.3}),
            "rpe",
        ),
    ] {
        let (status, problem) = call(
            &app,
            &client,
            Method::POST,
            "/api/workouts/sets",
            Some(body),
        )
        .await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{problem}"
        );
    }
    let theirs = json!({"exercise": "back-squat", "reps": 5, "weight_kg": 90, "workout_id": id});
    let (status, problem) = call(
        &app,
        &stranger,
        Method::POST,
        "/api/workouts/sets",
        Some(theirs),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("workout_id"))
    );
    assert_eq!(
        count(&training, "select count(*) from workout_sets").await,
        sets_before
    );

    // The session: each planned slot with its target and the sets beside it.
    let path = format!("/api/workouts/{id}");
    let (status, detail) = call(&app, &trainer, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["planned"]["name"], "Squat day");
    let slots = detail["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0]["target"]["exercise"], "barbell-squat");
    assert_eq!(slots[0]["target"]["reps_max"], 8);
    let failed: Vec<bool> = slots[0]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["failed"].as_bool().unwrap())
        .collect();
    assert_eq!(failed, [false, false, true]);
    assert_eq!(slots[1]["sets"][0]["rpe"], 8.5);
    assert_eq!(detail["other_sets"][0]["exercise"], "pullups");
    for who in [&stranger, &other_trainer] {
        assert_eq!(call(&app, who, Method::GET, &path, None).await.0, 404);
    }

    // The client finishes it; a finish before the start is refused.
    let started = workout["started_at"].clone();
    let bad = json!({"started_at": started, "finished_at": "2001-01-01T00:00:00Z"});
    let (status, problem) = call(&app, &client, Method::PUT, &path, Some(bad)).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("finished_at"))
    );
    let finish = json!({"started_at": started, "finished_at": Utc::now(), "notes": "Last set was a grind", "perceived_effort": 8});
    let (status, done) = call(&app, &client, Method::PUT, &path, Some(finish.clone())).await;
    assert_eq!(
        (
            status,
            done["revision"].as_i64(),
            done["perceived_effort"].as_i64()
        ),
        (200, Some(2), Some(8))
    );
    assert_eq!(
        call(&app, &stranger, Method::PUT, &path, Some(finish))
            .await
            .0,
        404
    );

    // Feedback: the trainer comments; the client is notified, once; nobody else.
    let comment = json!({"body": "Great depth. Next time stop one rep earlier on set 3."});
    assert_eq!(
        call(
            &app,
            &other_trainer,
            Method::POST,
            &format!("{path}/comments"),
            Some(comment.clone())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &app,
            &client,
            Method::POST,
            &format!("{path}/comments"),
            Some(comment.clone())
        )
        .await
        .0,
        403
    );
    let (status, posted) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("{path}/comments"),
        Some(comment),
    )
    .await;
    assert_eq!(status, 201, "{posted}");
    let inbox = eventually(60, "the comment in the client's inbox", || async {
        let (_, inbox) = call(&app, &client, Method::GET, "/api/notifications/inbox", None).await;
        (inbox.as_array()?.len() == 1).then_some(inbox)
    })
    .await;
    assert_eq!(inbox[0]["notification_id"], posted["id"]);
    assert_eq!(inbox[0]["kind"], "workout_comment");
    assert_eq!(inbox[0]["subject_id"], json!(id));
    assert_eq!(inbox[0]["sender_id"], json!(trainer.id));
    assert_eq!(inbox[0]["body"], posted["body"]);
    let (_, theirs) = call(
        &app,
        &stranger,
        Method::GET,
        "/api/notifications/inbox",
        None,
    )
    .await;
    assert_eq!(theirs, json!([]));
    let (_, detail) = call(&app, &client, Method::GET, &path, None).await;
    assert_eq!(detail["comments"][0]["body"], posted["body"]);

    // The comment event published again (as by a relay that crashed before deleting its
    // outbox row), then a second comment behind it on the client's partition: the
    // inbox gets the second, and the first still once.
    outbox_drained(&training, 60, "the comment published").await;
    let original = env
        .read_topic(&env.topic("fitsync.training"), 1)
        .await
        .into_iter()
        .find(|m| {
            serde_json::from_slice::<Value>(rdkafka::Message::payload(m).unwrap()).unwrap()["type"]
                == "fitsync.workout.comment_added.v1"
        })
        .expect("the comment on the stream");
    let producer: rdkafka::producer::FutureProducer =
        fitsync_platform::kafka::producer_config(&env.settings.kafka)
            .create()
            .unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&env.topic("fitsync.training"))
                .key(rdkafka::Message::key(&original).unwrap())
                .payload(rdkafka::Message::payload(&original).unwrap()),
            std::time::Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let second = json!({"body": "And log your warm-ups too."});
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("{path}/comments"),
        Some(second),
    )
    .await;
    assert_eq!(status, 201);
    let inbox = eventually(60, "the second comment in the inbox", || async {
        let (_, inbox) = call(&app, &client, Method::GET, "/api/notifications/inbox", None).await;
        inbox
            .as_array()?
            .iter()
            .any(|n| n["body"] == "And log your warm-ups too.")
            .then_some(inbox)
    })
    .await;
    let firsts = inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["notification_id"] == posted["id"])
        .count();
    assert_eq!((inbox.as_array().unwrap().len(), firsts), (2, 1));

    // Progress counts the session: squat 100 kg × (8 + 1), bench by RPE 8.5 (1 in reserve).
    let progress = format!("/api/progress/{}/e1rm", client.id);
    let (squat_best, bench_best) = (epley(100.0, 9), epley(80.0, 7));
    eventually(60, "the session in the e1RM", || async {
        let (_, p) = call(&app, &client, Method::GET, &progress, None).await;
        ((e1rm_of(&p, "barbell-squat")? - squat_best).abs() < 1e-6
            && (e1rm_of(&p, "barbell-bench-press-medium-grip")? - bench_best).abs() < 1e-6)
            .then_some(())
    })
    .await;

    // Deleting the session deletes its sets: only the ad hoc squat counts now.
    assert_eq!(
        call(&app, &stranger, Method::DELETE, &path, None).await.0,
        404
    );
    assert_eq!(
        call(&app, &client, Method::DELETE, &path, None).await.0,
        204
    );
    assert_eq!(call(&app, &client, Method::GET, &path, None).await.0, 404);
    let (_, left) = call(&app, &client, Method::GET, "/api/workouts/sets", None).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    let ad_hoc = epley(90.0, 7);
    eventually(60, "the e1RM without the session", || async {
        let (_, p) = call(&app, &client, Method::GET, &progress, None).await;
        ((e1rm_of(&p, "barbell-squat")? - ad_hoc).abs() < 1e-6
            && e1rm_of(&p, "barbell-bench-press-medium-grip").is_none())
        .then_some(())
    })
    .await;

    // On the stream: the session's three states, and a deletion per set.
    outbox_drained(&training, 60, "the changes published").await;
    // A template, a plan, six sets, three session states, a comment, five deletions.
    let events: Vec<Value> = env
        .read_topic(&env.topic("fitsync.training"), 17)
        .await
        .iter()
        .map(|m| serde_json::from_slice(rdkafka::Message::payload(m).unwrap()).unwrap())
        .collect();
    let session: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e["type"] == "fitsync.workout.session_changed.v1")
        .map(|e| {
            (
                e["data"]["status"].as_str().unwrap().to_owned(),
                e["data"]["revision"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        session,
        [
            ("open".to_owned(), 1),
            ("finished".to_owned(), 2),
            ("deleted".to_owned(), 3)
        ]
    );
    let deleted = events
        .iter()
        .filter(|e| e["type"] == "fitsync.workout.set_deleted.v1")
        .count();
    assert_eq!(deleted, 5);
    app.stop().await;
}
