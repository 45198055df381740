//! Diet plans end to end: a trainer writes a diet and assigns it, the client logs a day
//! of eating (and deletes an entry), and the progress service shows each day's intake
//! and adherence exactly as the formula gives over the log as it now stands — through
//! the change stream, recomputed when an entry is deleted or the diet changes.

use chrono::{Days, NaiveDate, Utc};
use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    harness::{call, count, eventually, trains_in_training, TestEnv},
    matrix::train,
};

/// kcal, protein, carbs, fat, fiber per 100 g.
const OATS: [f64; 5] = [389.0, 16.9, 66.3, 6.9, 10.6];
const CHICKEN: [f64; 5] = [165.0, 31.0, 0.0, 3.6, 0.0];
const RICE: [f64; 5] = [130.0, 2.7, 28.2, 0.3, 0.4];
const OLIVE_OIL: [f64; 5] = [884.0, 0.0, 0.0, 100.0, 0.0];

fn macros(v: [f64; 5]) -> Value {
    json!({"kcal": v[0], "protein_g": v[1], "carbs_g": v[2], "fat_g": v[3], "fiber_g": v[4]})
}

/// A diet with these daily targets and one meal.
pub fn diet(name: &str, targets: [f64; 5]) -> Value {
    json!({"name": name, "targets": macros(targets), "notes": "Protein with every meal.",
           "meals": [{"name": "Breakfast", "items": [{"food": "Rolled oats", "grams": 80, "per_100g": macros(OATS)}]}]})
}

fn food(date: NaiveDate, meal: &str, name: &str, grams: f64, per_100g: [f64; 5]) -> Value {
    json!({"date": date, "meal": meal, "food": name, "grams": grams, "per_100g": macros(per_100g)})
}

/// The formula of docs/analytics.md, computed here independently of the job.
fn expected(foods: &[(f64, [f64; 5])], targets: [f64; 5]) -> ([f64; 5], f64) {
    let mut eaten = [0.0; 5];
    for (grams, per) in foods {
        for n in 0..5 {
            eaten[n] += grams * per[n] / 100.0;
        }
    }
    let scores: Vec<f64> = (0..5)
        .filter(|n| targets[*n] > 0.0)
        .map(|n| (1.0 - (eaten[n] - targets[n]).abs() / targets[n]).max(0.0))
        .collect();
    (
        eaten,
        100.0 * scores.iter().sum::<f64>() / scores.len() as f64,
    )
}

fn day_of(progress: &Value, date: NaiveDate) -> Option<Value> {
    progress["days"]
        .as_array()?
        .iter()
        .find(|d| d["date"] == json!(date))
        .cloned()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

fn matches(
    day: &Value,
    eaten: [f64; 5],
    targets: Option<[f64; 5]>,
    adherence: Option<f64>,
) -> bool {
    let names = ["kcal", "protein_g", "carbs_g", "fat_g", "fiber_g"];
    let eaten_ok = names
        .iter()
        .zip(eaten)
        .all(|(n, v)| close(&day["eaten"][n], v));
    let targets_ok = match targets {
        Some(t) => names
            .iter()
            .zip(t)
            .all(|(n, v)| close(&day["targets"][n], v)),
        None => day["targets"].is_null(),
    };
    let adherence_ok = match adherence {
        Some(a) => close(&day["adherence_percent"], a),
        None => day["adherence_percent"].is_null(),
    };
    eaten_ok && targets_ok && adherence_ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_eating_reaches_progress_with_adherence_as_the_formula_gives_after_deletes_and_diet_changes(
) {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let stranger = app.register("client").await;
    let other_trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;

    // The trainer writes a diet and assigns it from yesterday (UTC, so days are UTC days).
    let targets = [2400.0, 180.0, 250.0, 75.0, 30.0];
    let (status, plan) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/diets",
        Some(diet("Recomp", targets)),
    )
    .await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(plan["version"], 1);
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let today = Utc::now().date_naive();
    let yesterday = today - Days::new(1);
    let before = today - Days::new(5);
    let assign = json!({"client_id": client.id, "start_date": yesterday, "time_zone": "UTC"});
    let (status, first) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/diets/{plan_id}/assignments"),
        Some(assign),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "active");

    // Others cannot assign it, read it, or log for the client.
    let (status, _) = call(
        &app,
        &other_trainer,
        Method::GET,
        &format!("/api/diets/{plan_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let assign = json!({"client_id": client.id, "start_date": today, "time_zone": "UTC"});
    let (status, _) = call(
        &app,
        &other_trainer,
        Method::POST,
        &format!("/api/diets/{plan_id}/assignments"),
        Some(assign),
    )
    .await;
    assert_eq!(status, 403);

    // A day of eating, one entry deleted; a day before the diet; a day yesterday.
    let day = [
        food(today, "Breakfast", "Rolled oats", 90.0, OATS),
        food(today, "Lunch", "Chicken breast", 250.0, CHICKEN),
        food(today, "Lunch", "White rice", 300.0, RICE),
        food(today, "Dinner", "Olive oil", 40.0, OLIVE_OIL),
    ];
    let mut ids = Vec::new();
    for entry in day {
        let (status, logged) =
            call(&app, &client, Method::POST, "/api/diets/log", Some(entry)).await;
        assert_eq!(status, 201, "{logged}");
        ids.push(logged["id"].as_str().unwrap().to_owned());
    }
    // What it contributed, as the service shows it.
    let (_, log) = call(
        &app,
        &client,
        Method::GET,
        &format!("/api/diets/log?date={today}"),
        None,
    )
    .await;
    assert_eq!(log.as_array().unwrap().len(), 4);
    assert!(close(&log[1]["eaten"]["protein_g"], 77.5), "{log}");
    let (status, _) = call(
        &app,
        &client,
        Method::DELETE,
        &format!("/api/diets/log/{}", ids[3]),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for (date, grams) in [(before, 100.0), (yesterday, 200.0)] {
        let (status, _) = call(
            &app,
            &client,
            Method::POST,
            "/api/diets/log",
            Some(food(date, "Snack", "Oats", grams, OATS)),
        )
        .await;
        assert_eq!(status, 201);
    }

    // Bad input: problem JSON naming each field, and nothing logged.
    let training = env.training_db();
    let logged = count(&training, "select count(*) from food_log").await;
    let plans = count(&training, "select count(*) from diet_plans").await;
    let bad = json!({"date": today, "food": " ", "grams": 0, "per_100g": macros([950.0, 80.0, 30.0, 0.0, 0.0])});
    let (status, problem) = call(&app, &client, Method::POST, "/api/diets/log", Some(bad)).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["food", "grams", "per_100g"], "{problem}");
    let future = food(today + Days::new(3), "Snack", "Oats", 10.0, OATS);
    let (status, _) = call(&app, &client, Method::POST, "/api/diets/log", Some(future)).await;
    assert_eq!(status, 422);
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/diets/log",
        Some(food(today, "x", "Oats", 10.0, OATS)),
    )
    .await;
    assert_eq!(status, 403, "a trainer does not eat for the client");
    let (status, _) = call(
        &app,
        &stranger,
        Method::DELETE,
        &format!("/api/diets/log/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 404, "another client's entry");
    let (status, _) = call(
        &app,
        &stranger,
        Method::GET,
        &format!("/api/diets/log?client_id={}&date={today}", client.id),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let mut bad_plan = diet("", [100.0, 180.0, 250.0, 75.0, 30.0]);
    bad_plan["meals"][0]["items"][0]["grams"] = json!(-5);
    let (status, problem) = call(&app, &trainer, Method::POST, "/api/diets", Some(bad_plan)).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "document.name",
            "document.targets.kcal",
            "document.meals[0].items[0].grams"
        ],
        "{problem}"
    );
    assert_eq!(
        (
            count(&training, "select count(*) from food_log").await,
            count(&training, "select count(*) from diet_plans").await
        ),
        (logged, plans),
        "nothing written by bad input"
    );

    // Progress: each day as the formula gives over the entries that still count.
    let (eaten, score) = expected(&[(90.0, OATS), (250.0, CHICKEN), (300.0, RICE)], targets);
    let (eaten_yesterday, score_yesterday) = expected(&[(200.0, OATS)], targets);
    let (eaten_before, _) = expected(&[(100.0, OATS)], targets);
    let path = format!(
        "/api/progress/{}/nutrition?from={before}&to={today}",
        client.id
    );
    eventually(60, "the day's intake and adherence", || async {
        let (_, p) = call(&app, &trainer, Method::GET, &path, None).await;
        (matches(&day_of(&p, today)?, eaten, Some(targets), Some(score))
            && matches(
                &day_of(&p, yesterday)?,
                eaten_yesterday,
                Some(targets),
                Some(score_yesterday),
            )
            && matches(&day_of(&p, before)?, eaten_before, None, None)
            && p["days"].as_array()?.len() == 3)
            .then_some(())
    })
    .await;

    // A new diet from today: yesterday keeps the old targets (the old one ends the day
    // before), today is scored against the new.
    let lighter = [2000.0, 160.0, 200.0, 60.0, 25.0];
    let (_, plan2) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/diets",
        Some(diet("Cut", lighter)),
    )
    .await;
    let assign = json!({"client_id": client.id, "start_date": today, "time_zone": "UTC"});
    let (status, _) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/diets/{}/assignments", plan2["id"].as_str().unwrap()),
        Some(assign),
    )
    .await;
    assert_eq!(status, 201);
    let (_, all) = call(&app, &client, Method::GET, "/api/diets/assignments", None).await;
    assert_eq!(all[1]["status"], "ended");
    assert_eq!(all[1]["end_date"], json!(yesterday));
    let (_, score_lighter) = expected(&[(90.0, OATS), (250.0, CHICKEN), (300.0, RICE)], lighter);
    eventually(60, "today re-scored against the new diet", || async {
        let (_, p) = call(&app, &client, Method::GET, &path, None).await;
        (matches(
            &day_of(&p, today)?,
            eaten,
            Some(lighter),
            Some(score_lighter),
        ) && matches(
            &day_of(&p, yesterday)?,
            eaten_yesterday,
            Some(targets),
            Some(score_yesterday),
        ))
        .then_some(())
    })
    .await;

    // A diet from tomorrow, ended before it starts, applies on no day: tomorrow (logged
    // ahead, as a client east of UTC may) has no targets, the one before having ended today.
    let tomorrow = today + Days::new(1);
    let (_, plan3) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/diets",
        Some(diet("Never", targets)),
    )
    .await;
    let assign = json!({"client_id": client.id, "start_date": tomorrow, "time_zone": "UTC"});
    let (_, third) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/diets/{}/assignments", plan3["id"].as_str().unwrap()),
        Some(assign),
    )
    .await;
    let (status, ended) = call(
        &app,
        &trainer,
        Method::POST,
        &format!(
            "/api/diets/assignments/{}/end",
            third["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!((status, ended["end_date"].clone()), (200, json!(today)));
    let (status, _) = call(
        &app,
        &client,
        Method::POST,
        "/api/diets/log",
        Some(food(tomorrow, "Snack", "Oats", 50.0, OATS)),
    )
    .await;
    assert_eq!(status, 201);
    let (eaten_tomorrow, _) = expected(&[(50.0, OATS)], targets);
    let ahead = format!(
        "/api/progress/{}/nutrition?from={tomorrow}&to={tomorrow}",
        client.id
    );
    eventually(60, "tomorrow logged without targets", || async {
        let (_, p) = call(&app, &client, Method::GET, &ahead, None).await;
        matches(&day_of(&p, tomorrow)?, eaten_tomorrow, None, None).then_some(())
    })
    .await;
    let (_, p) = call(&app, &client, Method::GET, &path, None).await;
    assert!(matches(
        &day_of(&p, today).unwrap(),
        eaten,
        Some(lighter),
        Some(score_lighter)
    ));

    // Deleting the last entry of a day removes the day.
    let (_, log) = call(
        &app,
        &client,
        Method::GET,
        &format!("/api/diets/log?date={yesterday}"),
        None,
    )
    .await;
    let id = log[0]["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &client,
        Method::DELETE,
        &format!("/api/diets/log/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    eventually(60, "the emptied day gone", || async {
        let (_, p) = call(&app, &client, Method::GET, &path, None).await;
        (day_of(&p, yesterday).is_none() && p["days"].as_array()?.len() == 2).then_some(())
    })
    .await;
    let (status, _) = call(&app, &stranger, Method::GET, &path, None).await;
    assert_eq!(status, 403);
}
