//! The training service's exercise library and the corrections of a workout log, end to
//! end: search served from OpenSearch fed by the change stream, custom exercises private
//! to their owners, sets that must name a library exercise, and corrections and
//! deletions that the progress results follow exactly.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{
        call, count, epley, eventually, outbox_drained, trains_in_training, Account, TestApp,
        TestEnv,
    },
    matrix::train,
};

/// The slugs a search returns, best first.
async fn search(app: &TestApp, who: &Account, query: &str) -> Vec<String> {
    let (status, body) = call(
        app,
        who,
        Method::GET,
        &format!("/api/exercises?{query}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{query}: {body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the indexer has built the library's index from the change stream (all
/// 873 exercises searchable), and the API serves it.
async fn library_indexed(env: &TestEnv, app: &TestApp, who: &Account) {
    let url = format!(
        "{}/{}/_count",
        env.settings.opensearch.url.trim_end_matches('/'),
        env.settings.opensearch.index("exercises")
    );
    eventually(120, "the exercise library indexed", || async {
        let body: Value = app.http.get(&url).send().await.ok()?.json().await.ok()?;
        (body["count"].as_i64()? >= 873).then_some(())
    })
    .await;
    let (status, body) = call(app, who, Method::GET, "/api/exercises?limit=100", None).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(100)));
}

/// The shipped data file, read here independently of the service's import.
fn source_exercises() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../services/training/data/exercises.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_is_searchable_with_typos_prefixes_and_synonyms() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    library_indexed(&env, &app, &client).await;

    // All 873 exercises are in the library, each once.
    assert_eq!(
        count(
            &env.training_db(),
            "select count(*) from exercises where owner_id is null"
        )
        .await,
        873
    );

    for (query, best) in [
        ("q=rdl", "romanian-deadlift"),
        ("q=romainan%20deadlift", "romanian-deadlift"),
        ("q=romanian%20dead", "romanian-deadlift"),
        ("q=bench", "barbell-bench-press-medium-grip"),
        ("q=ohp", "standing-military-press"),
        ("q=back%20squat", "barbell-squat"),
        ("q=deadlfit", "barbell-deadlift"),
    ] {
        let found = search(&app, &client, query).await;
        assert_eq!(
            found.first().map(String::as_str),
            Some(best),
            "{query}: {found:?}"
        );
    }
    // A prefix as it is typed finds the words it starts.
    let typed = search(&app, &client, "q=kettleb&limit=100").await;
    assert!(
        typed.len() >= 20 && typed.iter().all(|s| s.contains("kettlebell")),
        "{typed:?}"
    );

    // Filters: exactly the exercises of the data file that match, counted here from it.
    let source = source_exercises();
    let want = source
        .iter()
        .filter(|e| {
            e["equipment"] == "dumbbell"
                && e["primaryMuscles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m == "chest")
        })
        .count();
    let found = search(&app, &client, "muscle=chest&equipment=dumbbell&limit=100").await;
    assert!(want > 5);
    assert_eq!(found.len(), want, "{found:?}");
    let stretches = search(&app, &client, "q=hamstring&category=stretching&limit=100").await;
    assert!(!stretches.is_empty());
    for slug in &stretches {
        let (_, e) = call(
            &app,
            &client,
            Method::GET,
            &format!("/api/exercises/{slug}"),
            None,
        )
        .await;
        assert_eq!(e["category"], "stretching", "{slug}");
    }

    // Bad filters are problems, not empty answers.
    for bad in [
        "muscle=wings",
        "limit=0",
        "equipment=spaceship",
        "surprise=1",
    ] {
        let (status, body) = call(
            &app,
            &client,
            Method::GET,
            &format!("/api/exercises?{bad}"),
            None,
        )
        .await;
        assert!(matches!(status, 400 | 422), "{bad}: {status} {body}");
    }
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        "/api/exercises/no-such-exercise",
        None,
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_exercises_are_private_to_their_owners_and_those_they_serve() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let stranger = app.register("client").await;
    let other_trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;

    let definition = json!({
        "name": "Heavy Sled Push", "category": "strongman", "level": "intermediate",
        "equipment": "other", "primary_muscles": ["quadriceps", "glutes"],
        "secondary_muscles": ["calves", "glutes"], "aliases": ["Heavy Prowler"]
    });
    let (status, created) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/exercises",
        Some(definition.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let slug = created["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("heavy-sled-push-"), "{slug}");
    assert_eq!(created["owner_id"], trainer.id.to_string());
    // Secondary muscles never repeat a primary one.
    assert_eq!(created["secondary_muscles"], json!(["calves"]));

    // Clients may not define exercises; bad definitions are problems.
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        "/api/exercises",
        Some(definition.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let mut bad = definition.clone();
    bad["primary_muscles"] = json!([]);
    bad["name"] = json!("!!!");
    let (status, problem) = call(&app, &trainer, Method::POST, "/api/exercises", Some(bad)).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"primary_muscles"),
        "{problem}"
    );

    // The trainer's client uses it, by slug or alias; a stranger cannot see it at all.
    let set = |exercise: &str| json!({"exercise": exercise, "reps": 10, "weight_kg": 120});
    let response = app.log_set(&client, set(&slug)).await;
    assert_eq!(response.status(), 201);
    let response = app.log_set(&client, set("heavy-prowler")).await;
    assert_eq!(response.status(), 201);
    let logged: Value = response.json().await.unwrap();
    assert_eq!(logged["exercise"], slug.as_str());
    assert_eq!(app.log_set(&stranger, set(&slug)).await.status(), 422);
    for who in [&stranger, &other_trainer] {
        let (status, _) = call(
            &app,
            who,
            Method::GET,
            &format!("/api/exercises/{slug}"),
            None,
        )
        .await;
        assert_eq!(status, 404);
    }
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        &format!("/api/exercises/{slug}"),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Only the owner redefines it (the slug stays, the revision goes up); nobody
    // redefines the global library.
    let mut renamed = definition.clone();
    renamed["name"] = json!("Sandbag Shouldering");
    let (status, _) = call(
        &app,
        &other_trainer,
        Method::PUT,
        &format!("/api/exercises/{slug}"),
        Some(renamed.clone()),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &client,
        Method::PUT,
        &format!("/api/exercises/{slug}"),
        Some(renamed.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &trainer,
        Method::PUT,
        "/api/exercises/barbell-squat",
        Some(renamed.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, updated) = call(
        &app,
        &trainer,
        Method::PUT,
        &format!("/api/exercises/{slug}"),
        Some(renamed),
    )
    .await;
    assert_eq!(
        (
            status,
            updated["slug"].as_str(),
            updated["revision"].as_i64()
        ),
        (200, Some(slug.as_str()), Some(2))
    );

    // Search (from the change stream) shows it to the client, never to the stranger.
    library_indexed(&env, &app, &client).await;
    let found = eventually(60, "the renamed exercise indexed", || async {
        let found = search(&app, &client, "q=sandbag%20shouldring").await;
        (found.first() == Some(&slug)).then_some(found)
    })
    .await;
    assert_eq!(found[0], slug);
    assert!(
        !search(&app, &stranger, "q=sandbag%20shouldering&limit=100")
            .await
            .contains(&slug)
    );
    assert!(!search(&app, &other_trainer, "q=heavy%20prowler&limit=100")
        .await
        .contains(&slug));

    // The analytics learn its muscles from the stream (its newest revision).
    let progress = env.progress_db();
    let (name, primary): (String, Vec<String>) =
        eventually(60, "the analytics to learn the exercise", || async {
            let row: (String, Vec<String>, i64) = sqlx::query_as(
                "select name, primary_muscles, revision from exercise_catalog where slug = $1",
            )
            .bind(&slug)
            .fetch_optional(&progress)
            .await
            .ok()??;
            (row.2 == 2).then_some((row.0, row.1))
        })
        .await;
    assert_eq!(
        (name.as_str(), primary),
        (
            "Sandbag Shouldering",
            vec!["glutes".to_owned(), "quadriceps".to_owned()]
        )
    );
    let library = count(&progress, "select count(*) from exercise_catalog where slug = 'romanian-deadlift' and primary_muscles = '{hamstrings}'").await;
    assert_eq!(library, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_must_name_a_library_exercise_and_other_peoples_sets_are_out_of_reach() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let other = app.register("client").await;
    let training = env.training_db();

    let response = app
        .log_set(
            &client,
            json!({"exercise": "moon-press", "reps": 5, "weight_kg": 100}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "exercise");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("library"),
        "{problem}"
    );
    assert_eq!(
        count(&training, "select count(*) from workout_sets").await,
        0
    );

    // A common name resolves to the library's exercise.
    let response = app
        .log_set(
            &client,
            json!({"exercise": "back-squat", "reps": 5, "weight_kg": 100}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let set: Value = response.json().await.unwrap();
    assert_eq!(
        (set["exercise"].as_str(), set["revision"].as_i64()),
        (Some("barbell-squat"), Some(1))
    );
    let id = set["id"].as_str().unwrap();
    let path = format!("/api/workouts/sets/{id}");

    // Another client's corrections and deletions reach nothing; impossible values and
    // unknown exercises are problems. Nothing changes, nothing is emitted (the stream is
    // read at the end).
    let fix = json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 90});
    assert_eq!(
        call(&app, &other, Method::PUT, &path, Some(fix.clone()))
            .await
            .0,
        404
    );
    assert_eq!(call(&app, &other, Method::DELETE, &path, None).await.0, 404);
    for bad in [
        json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 1e9}),
        json!({"exercise": "barbell-squat", "reps": -1, "weight_kg": 90}),
        json!({"exercise": "moon-press", "reps": 5, "weight_kg": 90}),
    ] {
        assert_eq!(
            call(&app, &client, Method::PUT, &path, Some(bad)).await.0,
            422
        );
    }
    let random = format!("/api/workouts/sets/{}", Uuid::new_v4());
    assert_eq!(
        call(&app, &client, Method::PUT, &random, Some(fix.clone()))
            .await
            .0,
        404
    );
    assert_eq!(
        count(
            &training,
            "select count(*) from workout_sets where weight_kg = 100 and revision = 1"
        )
        .await,
        1
    );

    // The owner corrects (revision 2) and deletes (revision 3 on the stream).
    let (status, fixed) = call(&app, &client, Method::PUT, &path, Some(fix)).await;
    assert_eq!(
        (
            status,
            fixed["revision"].as_i64(),
            fixed["weight_kg"].as_f64()
        ),
        (200, Some(2), Some(90.0))
    );
    assert_eq!(
        call(&app, &client, Method::DELETE, &path, None).await.0,
        204
    );
    assert_eq!(
        call(&app, &client, Method::DELETE, &path, None).await.0,
        404
    );
    outbox_drained(&training, 60, "the changes published").await;
    let events: Vec<(String, i64)> = env
        .read_topic(&env.topic("fitsync.training"), 3)
        .await
        .iter()
        .map(|m| {
            let event: Value =
                serde_json::from_slice(rdkafka::Message::payload(m).unwrap()).unwrap();
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"]["revision"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("fitsync.workout.set_logged.v2".to_owned(), 1),
            ("fitsync.workout.set_corrected.v2".to_owned(), 2),
            ("fitsync.workout.set_deleted.v1".to_owned(), 3)
        ]
    );
    app.stop().await;
}

/// Best e1RM (and its set) per exercise; volume load and set count per week.
type Results = (
    BTreeMap<String, (f64, Uuid)>,
    BTreeMap<NaiveDate, (f64, i64)>,
);

/// One set as the client's log finally holds it.
#[derive(Debug, Clone)]
struct Held {
    exercise: &'static str,
    reps: i32,
    kg: f64,
    at: DateTime<Utc>,
}

fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// What a fresh computation over the final log gives: best Epley e1RM per exercise (with
/// its set), and volume load and set count per ISO week.
fn expected(log: &HashMap<Uuid, Held>) -> Results {
    let mut best: BTreeMap<String, (f64, Uuid, DateTime<Utc>)> = BTreeMap::new();
    let mut weeks: BTreeMap<NaiveDate, (f64, i64)> = BTreeMap::new();
    for (id, s) in log {
        let e = epley(s.kg, s.reps);
        let entry = best.entry(s.exercise.to_owned()).or_insert((e, *id, s.at));
        if e > entry.0 || (e == entry.0 && s.at < entry.2) {
            *entry = (e, *id, s.at);
        }
        let w = weeks.entry(week_of(s.at)).or_insert((0.0, 0));
        w.0 += s.kg * f64::from(s.reps);
        w.1 += 1;
    }
    (
        best.into_iter()
            .map(|(k, (e, id, _))| (k, (e, id)))
            .collect(),
        weeks,
    )
}

async fn progress(app: &TestApp, who: &Account) -> Results {
    let e1rm: Value = app
        .get(who, &format!("/api/progress/{}/e1rm", who.id))
        .await
        .json()
        .await
        .unwrap();
    let volume: Value = app
        .get(who, &format!("/api/progress/{}/volume?weeks=260", who.id))
        .await
        .json()
        .await
        .unwrap();
    let best = e1rm["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["exercise"].as_str().unwrap().to_owned(),
                (
                    e["e1rm_kg"].as_f64().unwrap(),
                    e["set_id"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    let weeks = volume["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["week_start"].as_str().unwrap().parse().unwrap(),
                (
                    w["volume_kg"].as_f64().unwrap(),
                    w["sets"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    (best, weeks)
}

fn same(actual: &Results, want: &Results) -> bool {
    actual.0.len() == want.0.len()
        && actual
            .0
            .iter()
            .zip(&want.0)
            .all(|((ka, (ea, ia)), (kw, (ew, iw)))| ka == kw && (ea - ew).abs() < 1e-9 && ia == iw)
        && actual.1.len() == want.1.len()
        && actual
            .1
            .iter()
            .zip(&want.1)
            .all(|((ka, (va, na)), (kw, (vw, nw)))| ka == kw && (va - vw).abs() < 0.005 && na == nw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_and_deletions_reach_the_progress_results_as_a_fresh_recompute_would() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let monday = DateTime::parse_from_rfc3339("2026-11-02T07:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut log: HashMap<Uuid, Held> = HashMap::new();
    let mut ids = Vec::new();
    // Three weeks of squats and bench, heavier each session.
    for day in 0..15 {
        for (exercise, base) in [
            ("barbell-squat", 100.0),
            ("barbell-bench-press-medium-grip", 70.0),
        ] {
            let held = Held {
                exercise,
                reps: 5,
                kg: base + f64::from(day) * 2.5,
                at: monday + Duration::days(i64::from(day)),
            };
            let response = app
                .log_set(&client, json!({"exercise": held.exercise, "reps": held.reps, "weight_kg": held.kg, "performed_at": held.at}))
                .await;
            assert_eq!(response.status(), 201);
            let body: Value = response.json().await.unwrap();
            let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
            ids.push(id);
            log.insert(id, held);
        }
    }
    let want = expected(&log);
    eventually(90, "the log counted", || async {
        same(&progress(&app, &client).await, &want).then_some(())
    })
    .await;

    // The best squat and the best bench are deleted (their e1RMs must fall back to the
    // next best); a squat is corrected down (typo), one moves to another week, one
    // becomes a bench set, and one is corrected twice.
    let best_squat = ids[28];
    let best_bench = ids[29];
    for id in [best_squat, best_bench] {
        assert_eq!(
            call(
                &app,
                &client,
                Method::DELETE,
                &format!("/api/workouts/sets/{id}"),
                None
            )
            .await
            .0,
            204
        );
        log.remove(&id);
    }
    let mut correct = |id: Uuid, held: Held| {
        let body = json!({"exercise": held.exercise, "reps": held.reps, "weight_kg": held.kg, "performed_at": held.at});
        log.insert(id, held);
        (id, body)
    };
    let corrections = vec![
        correct(
            ids[26],
            Held {
                exercise: "barbell-squat",
                reps: 5,
                kg: 13.0,
                at: monday + Duration::days(13),
            },
        ),
        correct(
            ids[2],
            Held {
                exercise: "barbell-squat",
                reps: 5,
                kg: 105.0,
                at: monday + Duration::days(9),
            },
        ),
        correct(
            ids[4],
            Held {
                exercise: "barbell-bench-press-medium-grip",
                reps: 8,
                kg: 72.5,
                at: monday + Duration::days(2),
            },
        ),
        correct(
            ids[6],
            Held {
                exercise: "barbell-squat",
                reps: 3,
                kg: 150.0,
                at: monday + Duration::days(3),
            },
        ),
        correct(
            ids[6],
            Held {
                exercise: "barbell-squat",
                reps: 3,
                kg: 115.0,
                at: monday + Duration::days(3),
            },
        ),
    ];
    for (id, body) in corrections {
        let (status, fixed) = call(
            &app,
            &client,
            Method::PUT,
            &format!("/api/workouts/sets/{id}"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{fixed}");
    }
    let want = expected(&log);
    // The corrected log's own results, not the old ones: the deleted best sets are gone.
    assert_ne!(want.0["barbell-squat"].1, best_squat);
    let got = eventually(90, "the corrections counted", || async {
        let got = progress(&app, &client).await;
        same(&got, &want).then_some(got)
    })
    .await;
    assert_eq!(got.0.len(), 2);

    // A replay of the whole stream (the job's stored offsets wound back to the start)
    // changes nothing: every change is applied at most once, in revision order.
    app.stop().await;
    sqlx::query("update consumer_offsets set next_offset = 0")
        .execute(&env.progress_db())
        .await
        .unwrap();
    let app = env.start(&[Target::All]).await;
    let marker = Held {
        exercise: "barbell-deadlift",
        reps: 1,
        kg: 200.0,
        at: monday + Duration::days(20),
    };
    let response = app
        .log_set(&client, json!({"exercise": marker.exercise, "reps": 1, "weight_kg": 200.0, "performed_at": marker.at}))
        .await;
    let id: Uuid = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    log.insert(id, marker);
    let want = expected(&log);
    eventually(90, "the replay and the marker counted", || async {
        same(&progress(&app, &client).await, &want).then_some(())
    })
    .await;
    let tombstones = count(
        &env.progress_db(),
        "select count(*) from set_facts where deleted",
    )
    .await;
    assert_eq!(tombstones, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_are_entered_and_read_in_each_users_unit_and_stored_in_kilograms() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::Users, Target::Training]).await;
    let client = app.register("client").await;
    let training = env.training_db();
    let prefs = "/api/workouts/preferences";
    assert_eq!(
        call(&app, &client, Method::GET, prefs, None).await.1,
        json!({"unit": "kg"})
    );
    assert_eq!(
        call(
            &app,
            &client,
            Method::PUT,
            prefs,
            Some(json!({"unit": "stone"}))
        )
        .await
        .0,
        422
    );
    let (status, saved) = call(
        &app,
        &client,
        Method::PUT,
        prefs,
        Some(json!({"unit": "lb"})),
    )
    .await;
    assert_eq!((status, saved), (200, json!({"unit": "lb"})));

    // 225 lb in her unit: stored as 225 · 0.45359237 kg to 10 g, shown back as 225 lb.
    let response = app
        .log_set(
            &client,
            json!({"exercise": "barbell-squat", "reps": 5, "weight": 225}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let set: Value = response.json().await.unwrap();
    let kg = (225.0f64 * 0.453_592_37 * 100.0).round() / 100.0;
    assert_eq!(
        (
            set["weight_kg"].as_f64(),
            set["weight"].as_f64(),
            set["unit"].as_str(),
            set["entered_unit"].as_str()
        ),
        (Some(kg), Some(225.0), Some("lb"), Some("lb"))
    );
    // Kilograms stay possible, and read in her unit.
    let response = app
        .log_set(
            &client,
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100}),
        )
        .await;
    let set: Value = response.json().await.unwrap();
    assert_eq!(
        (set["weight"].as_f64(), set["entered_unit"].as_str()),
        (Some(220.5), Some("kg"))
    );

    // Ambiguous or impossible loads are problems naming the field; nothing is written.
    for (body, field) in [
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight": 100, "weight_kg": 100}),
            "weight",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight": 2205, "unit": "lb"}),
            "weight",
        ),
        (
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100, "unit": "lb"}),
            "unit",
        ),
        (json!({"exercise": "barbell-squat", "reps": 5}), "weight_kg"),
    ] {
        let response = app.log_set(&client, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    assert_eq!(
        count(&training, "select count(*) from workout_sets").await,
        2
    );

    // Another reader sees the same sets in their own unit (kilograms by default).
    let admin = app.admin(&env).await;
    let (_, sets) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/workouts/sets?client_id={}", client.id),
        None,
    )
    .await;
    let shown: Vec<(f64, &str)> = sets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["weight"].as_f64().unwrap(), s["unit"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [(100.0, "kg"), (kg, "kg")]);
    app.stop().await;
}
