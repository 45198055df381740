//! Demo data, loaded through the public API so it travels the whole pipeline
//! (outbox → Kafka → analytics → progress tables, and OpenSearch): a trainer and their
//! 12-week program with progression, assigned to the demo clients, whose logs follow it
//! (a few sessions missed, a set corrected, one deleted); the trainer's hours in Berlin,
//! a weekly class and a package each client buys through the simulated payment gateway,
//! with four weeks of recorded 1:1s (some no-shows and late cancels) and upcoming
//! bookings. The demo accounts verify their addresses with the links in the local mail
//! server's Maildir, as a person would.

use anyhow::{bail, Context};
use chrono::{Datelike, Duration, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

pub const DEMO_PASSWORD: &str = "fitsync-demo-password";

/// The demo program's lifts: (slug or alias, the trainer's starting kg, Monday/Friday
/// or Wednesday).
const LIFTS: [(&str, f64, bool); 4] = [
    ("back-squat", 60.0, true),
    ("bench-press", 50.0, true),
    ("deadlift", 80.0, false),
    ("overhead-press", 35.0, false),
];

const PROGRAM: &str = "Demo: 12 weeks of strength";

/// A signed-in demo account.
struct Demo {
    id: String,
    email: String,
    token: String,
}

pub async fn run(api: &str, clients: usize, weeks: u32) -> anyhow::Result<()> {
    let http = Client::new();
    let trainer = account(
        &http,
        api,
        "demo.trainer1@fitsync.dev",
        "Demo Trainer 1",
        "trainer",
    )
    .await?;
    account(
        &http,
        api,
        "demo.trainer2@fitsync.dev",
        "Demo Trainer 2",
        "trainer",
    )
    .await?;
    verify(&http, api, &trainer).await?;
    let program = program(&http, api, &trainer).await?;
    let diet = diet(&http, api, &trainer).await?;
    let studio = studio(&http, api, &trainer).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut members = Vec::new();
    for i in 1..=clients {
        let email = format!("demo.client{i}@fitsync.dev");
        let client = account(&http, api, &email, &format!("Demo Client {i}"), "client").await?;
        let existing: Value = http
            .get(format!("{api}/api/workouts/sets?limit=1"))
            .bearer_auth(&client.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if existing.as_array().is_some_and(|a| !a.is_empty()) {
            println!("{email}: already has training, skipped");
            members.push(client);
            continue;
        }
        verify(&http, api, &client).await?;
        link(&http, api, &trainer, &client).await?;
        let assignment = assign(&http, api, &trainer, &program, &client, weeks).await?;
        let logged = follow(&http, api, &client, &assignment, &mut rng).await?;
        let days = eat(&http, api, &trainer, &diet, &client, &mut rng).await?;
        let (past, upcoming) =
            bookings(&http, api, &trainer, &studio, &client, i, &mut rng).await?;
        let weighed = body(&http, api, &trainer, &client, weeks, &mut rng).await?;
        if i == 1 {
            let (sets, kg) = surge(&http, api, &client).await?;
            println!("{email}: {sets} sets of squats at {kg} kg today, a record and a workload spike for the trainer's alerts");
        }
        println!("{email} ({}): {logged} sets of the assigned program over {weeks} weeks, one corrected, one deleted; {days} days of eating; a package, {past} past sessions, {upcoming} booked; {weighed} weigh-ins, a weight goal, a health record", client.id);
        members.push(client);
    }
    let joined = gym(&http, api, &trainer, &members).await?;
    println!("demo.gym@fitsync.dev: the Demo Gym, with the demo trainer and clients ({joined} joined now, each buying its class pass)");
    println!("demo accounts use the password {DEMO_PASSWORD:?}");
    Ok(())
}

/// The demo gym: its owner (`demo.gym@fitsync.dev`) creates it once; the demo trainer
/// and clients not yet in a gym join it (invited by email, accepting), and each client
/// who joins buys its class pass. Returns how many joined.
async fn gym(http: &Client, api: &str, trainer: &Demo, clients: &[Demo]) -> anyhow::Result<usize> {
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);
    let owner = account(http, api, "demo.gym@fitsync.dev", "Demo Gym Owner", "gym").await?;
    verify(http, api, &owner).await?;
    let me = send(
        http,
        get.clone(),
        format!("{api}/api/users/me"),
        &owner,
        None,
    )
    .await?;
    let gym = match me["gym_id"].as_str() {
        Some(id) => id.to_owned(),
        None => field(
            &send(
                http,
                post.clone(),
                format!("{api}/api/gyms"),
                &owner,
                Some(json!({"name": "Demo Gym"})),
            )
            .await?,
            "id",
        )?,
    };
    // Signed in again, the owner's token names the gym.
    let owner = account(http, api, "demo.gym@fitsync.dev", "Demo Gym Owner", "gym").await?;
    let packages = send(
        http,
        get.clone(),
        format!("{api}/api/packages?owner_id={gym}"),
        &owner,
        None,
    )
    .await?;
    let package = match packages.as_array().and_then(|p| p.first()) {
        Some(p) => field(p, "id")?,
        None => field(
            &send(http, post.clone(), format!("{api}/api/packages"), &owner,
                Some(json!({"name": "Demo Gym: class pass", "sessions": 8, "validity_days": 60, "price_cents": 9600, "currency": "EUR"}))).await?,
            "id",
        )?,
    };
    let mut joined = 0;
    for (who, role) in
        std::iter::once((trainer, "trainer")).chain(clients.iter().map(|c| (c, "client")))
    {
        let me = send(http, get.clone(), format!("{api}/api/users/me"), who, None).await?;
        if !me["gym_id"].is_null() {
            continue;
        }
        let invitation = send(
            http,
            post.clone(),
            format!("{api}/api/gyms/{gym}/invitations"),
            &owner,
            Some(json!({"email": who.email, "role": role})),
        )
        .await?;
        send(
            http,
            post.clone(),
            format!(
                "{api}/api/gyms/invitations/{}/accept",
                field(&invitation, "id")?
            ),
            who,
            None,
        )
        .await?;
        if role == "client" {
            buy(http, api, who, &package).await?;
        }
        joined += 1;
    }
    Ok(joined)
}

/// The Maildir of the local SMTP server (`scripts/stack.sh`), where the demo's emails land.
fn maildir() -> std::path::PathBuf {
    std::env::var_os("FITSYNC_MAILDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(".fitsync/mail"))
}

/// Verifies the account's address as its owner would: the link in the email that
/// registration sent, read from the local Maildir.
async fn verify(http: &Client, api: &str, who: &Demo) -> anyhow::Result<()> {
    let me: Value = http
        .get(format!("{api}/api/users/me"))
        .bearer_auth(&who.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    if me["email_verified"] == true {
        return Ok(());
    }
    let needle = format!("To: {}", who.email);
    for _ in 0..120 {
        let tokens: Vec<String> = std::fs::read_dir(maildir().join("new"))
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter(|text| text.contains(&needle))
                    .filter_map(|text| token_in(&text, "/verify-email"))
                    .collect()
            })
            .unwrap_or_default();
        for token in tokens {
            let response = http
                .post(format!("{api}/api/auth/verify-email"))
                .bearer_auth(&who.token)
                .json(&json!({ "token": token }))
                .send()
                .await?;
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    bail!(
        "no verification email for {} in {}",
        who.email,
        maildir().display()
    )
}

/// The trainer invites the client, who accepts.
async fn link(http: &Client, api: &str, trainer: &Demo, client: &Demo) -> anyhow::Result<()> {
    let invited: Value = http
        .post(format!("{api}/api/users/relationships"))
        .bearer_auth(&trainer.token)
        .json(&json!({ "client_id": client.id }))
        .send()
        .await?
        .error_for_status()
        .context("inviting a demo client")?
        .json()
        .await?;
    let id = field(&invited, "id")?;
    http.post(format!("{api}/api/users/relationships/{id}/accept"))
        .bearer_auth(&client.token)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()
        .context("accepting the invitation")?;
    Ok(())
}

/// The trainer's demo program (written once): Monday and Friday squat and bench,
/// Wednesday deadlift and overhead press, 3 × 5 with double progression.
async fn program(http: &Client, api: &str, trainer: &Demo) -> anyhow::Result<String> {
    let mine: Value = http
        .get(format!("{api}/api/programs"))
        .bearer_auth(&trainer.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    if let Some(found) = mine
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == PROGRAM))
    {
        return field(found, "id");
    }
    let slot = |exercise: &str, kg: f64| {
        json!({"exercise": exercise, "sets": 3, "reps_min": 5, "reps_max": 5,
               "load": {"type": "absolute", "kg": kg}, "rest_secs": 180,
               "progression": {"increment_kg": 2.5, "deload_percent": 10, "deload_after_failures": 2}})
    };
    let day = |offset: i64, name: &str, main: bool| {
        let slots: Vec<Value> = LIFTS
            .iter()
            .filter(|(_, _, m)| *m == main)
            .map(|(lift, kg, _)| slot(lift, *kg))
            .collect();
        json!({"offset": offset, "name": name, "slots": slots})
    };
    let week = json!({"days": [day(0, "Monday", true), day(2, "Wednesday", false), day(4, "Friday", true)]});
    let created: Value = http
        .post(format!("{api}/api/programs"))
        .bearer_auth(&trainer.token)
        .json(&json!({"document": {"name": PROGRAM, "weeks": vec![week; 12]}}))
        .send()
        .await?
        .error_for_status()
        .context("writing the demo program")?
        .json()
        .await?;
    field(&created, "id")
}

/// Assigns the program from the Monday `weeks` weeks ago, once the training service
/// has learnt of the relationship from the change stream.
async fn assign(
    http: &Client,
    api: &str,
    trainer: &Demo,
    program: &str,
    client: &Demo,
    weeks: u32,
) -> anyhow::Result<Value> {
    let today = Utc::now().date_naive();
    let monday = today
        - Duration::days(i64::from(today.weekday().num_days_from_monday()))
        - Duration::weeks(i64::from(weeks.min(11)));
    let body = json!({"client_id": client.id, "start_date": monday, "time_zone": "Europe/Berlin"});
    for _ in 0..120 {
        let response = http
            .post(format!("{api}/api/programs/{program}/assignments"))
            .bearer_auth(&trainer.token)
            .json(&body)
            .send()
            .await?;
        match response.status() {
            StatusCode::CREATED => return Ok(response.json().await?),
            StatusCode::FORBIDDEN | StatusCode::SERVICE_UNAVAILABLE => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await
            }
            other => bail!("assigning the demo program: {other}"),
        }
    }
    bail!("the training service never learnt of the demo relationship")
}

/// The client trains the planned workouts before today (missing about one in ten),
/// a little stronger each week; then corrects one set and deletes another.
async fn follow(
    http: &Client,
    api: &str,
    client: &Demo,
    assignment: &Value,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let strength: f64 = rng.gen_range(0.9..1.3);
    let today = Utc::now().date_naive();
    let document = &assignment["document"];
    let mut ids = Vec::new();
    for planned in assignment["planned"].as_array().into_iter().flatten() {
        let date: chrono::NaiveDate = field(planned, "date")?.parse()?;
        if date >= today || rng.gen_bool(0.1) {
            continue;
        }
        let week = planned["week"].as_u64().unwrap_or(1) as usize - 1;
        let day = planned["day"].as_u64().unwrap_or(1) as usize - 1;
        let at = date.and_hms_opt(17, 0, 0).unwrap_or_default().and_utc();
        // The session that carries out the planned workout, finished an hour later.
        let workout = send(
            http,
            reqwest::Method::POST,
            format!("{api}/api/workouts"),
            client,
            Some(json!({"planned_workout_id": planned["id"], "started_at": at})),
        )
        .await?;
        let workout_id = field(&workout, "id")?;
        send(
            http,
            reqwest::Method::PUT,
            format!("{api}/api/workouts/{workout_id}"),
            client,
            Some(json!({"started_at": at, "finished_at": at + Duration::hours(1)})),
        )
        .await?;
        for slot in document["weeks"][week]["days"][day]["slots"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let base = slot["load"]["kg"].as_f64().unwrap_or(20.0);
            let weight = ((base * strength + 2.5 * week as f64) / 2.5).round() * 2.5;
            for set in 0..3 {
                let body = json!({
                    "exercise": slot["exercise"], "reps": 5, "weight_kg": weight,
                    "rir": rng.gen_range(0..=3), "performed_at": at + Duration::minutes(set * 4),
                    "workout_id": workout_id,
                });
                let logged: Value = http
                    .post(format!("{api}/api/workouts/sets"))
                    .bearer_auth(&client.token)
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                ids.push((field(&logged, "id")?, body));
            }
        }
    }
    // A typo fixed (the last set was 10 kg heavier than typed), and a set logged twice.
    if let [.., (duplicate, _), (typo, body)] = ids.as_slice() {
        let mut fixed = body.clone();
        fixed["weight_kg"] = json!(body["weight_kg"].as_f64().unwrap_or(0.0) + 10.0);
        http.put(format!("{api}/api/workouts/sets/{typo}"))
            .bearer_auth(&client.token)
            .json(&fixed)
            .send()
            .await?
            .error_for_status()?;
        http.delete(format!("{api}/api/workouts/sets/{duplicate}"))
            .bearer_auth(&client.token)
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(ids.len())
}

/// Today the client squats far more than usual, heavier than ever: 20 sets of 5 at 10 kg
/// over the heaviest squat logged so far. The analytics job sees a new best e1RM and an
/// acute:chronic workload ratio well above 1.5, and the trainer's inbox gets both alerts.
async fn surge(http: &Client, api: &str, client: &Demo) -> anyhow::Result<(usize, f64)> {
    let sets = send(
        http,
        reqwest::Method::GET,
        format!("{api}/api/workouts/sets?limit=1000"),
        client,
        None,
    )
    .await?;
    let heaviest = sets
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["exercise"] == "barbell-squat")
        .filter_map(|s| s["weight_kg"].as_f64())
        .fold(60.0, f64::max);
    let kg = heaviest + 10.0;
    let start = Utc::now() - Duration::minutes(90);
    for n in 0..20 {
        send(
            http,
            reqwest::Method::POST,
            format!("{api}/api/workouts/sets"),
            client,
            Some(
                json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": kg,
                        "performed_at": start + Duration::minutes(4 * n)}),
            ),
        )
        .await?;
    }
    Ok((20, kg))
}

/// Body metrics: a morning weigh-in on about five days a week over the program's weeks,
/// drifting down about 0.3 kg a week; the trainer measures the waist each Monday; a goal
/// of 3 kg less in twelve weeks; a health record the trainer can read. Returns the
/// weigh-ins.
async fn body(
    http: &Client,
    api: &str,
    trainer: &Demo,
    client: &Demo,
    weeks: u32,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let post = reqwest::Method::POST;
    let start: f64 = rng.gen_range(62.0..95.0);
    let today = Utc::now().date_naive();
    let days = i64::from(weeks.min(11)) * 7;
    let mut weighed = 0;
    for back in (0..=days).rev() {
        let day = today - Duration::days(back);
        let at = berlin(day, 7);
        if at > Utc::now() {
            continue;
        }
        let elapsed = (days - back) as f64;
        if rng.gen_bool(5.0 / 7.0) {
            let kg = start - 0.3 * elapsed / 7.0 + rng.gen_range(-0.8..0.8);
            send(http, post.clone(), format!("{api}/api/metrics/{}/measurements", client.id), client,
                Some(json!({"metric": "weight", "value": (kg * 10.0).round() / 10.0, "measured_at": at,
                            "time_zone": "Europe/Berlin"}))).await?;
            weighed += 1;
        }
        if day.weekday() == chrono::Weekday::Mon {
            let waist = start * 1.05 - 0.25 * elapsed / 7.0;
            // The progress service learns of the relationship from the change stream.
            for attempt in 0..120 {
                let sent = send(http, post.clone(), format!("{api}/api/metrics/{}/measurements", client.id), trainer,
                    Some(json!({"metric": "waist", "value": (waist * 10.0).round() / 10.0, "measured_at": at + Duration::hours(3),
                                "time_zone": "Europe/Berlin"}))).await;
                match sent {
                    Ok(_) => break,
                    Err(e) if attempt == 119 => return Err(e),
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                }
            }
        }
    }
    send(
        http,
        post.clone(),
        format!("{api}/api/metrics/{}/goals", client.id),
        client,
        Some(
            json!({"kind": "weight", "target_kg": ((start - 3.0) * 10.0).round() / 10.0,
                    "by": today + Duration::weeks(12)}),
        ),
    )
    .await?;
    send(http, post, format!("{api}/api/metrics/{}/health-records", client.id), client,
        Some(json!({"kind": "injury", "title": "Lower back strain", "details": "Brace on heavy hinges",
                    "started_on": today - Duration::days(200), "ended_on": today - Duration::days(150)}))).await?;
    Ok(weighed)
}

/// Foods of the demo diet: name, kcal, protein, carbs, fat, fiber per 100 g (USDA
/// FoodData Central, rounded).
const FOODS: [(&str, &str, [f64; 5]); 5] = [
    ("Breakfast", "Rolled oats", [389.0, 16.9, 66.3, 6.9, 10.6]),
    ("Breakfast", "Greek yogurt", [97.0, 9.0, 3.9, 5.0, 0.0]),
    ("Lunch", "Chicken breast", [165.0, 31.0, 0.0, 3.6, 0.0]),
    ("Lunch", "White rice, cooked", [130.0, 2.7, 28.2, 0.3, 0.4]),
    ("Dinner", "Salmon", [208.0, 20.4, 0.0, 13.4, 0.0]),
];

fn per_100g(v: [f64; 5]) -> Value {
    json!({"kcal": v[0], "protein_g": v[1], "carbs_g": v[2], "fat_g": v[3], "fiber_g": v[4]})
}

/// The trainer's demo diet: 2,400 kcal, 170 g protein.
async fn diet(http: &Client, api: &str, trainer: &Demo) -> anyhow::Result<String> {
    let meals: Vec<Value> = ["Breakfast", "Lunch", "Dinner"]
        .iter()
        .map(|meal| {
            let items: Vec<Value> = FOODS
                .iter()
                .filter(|(m, _, _)| m == meal)
                .map(|(_, food, v)| json!({"food": food, "grams": 150, "per_100g": per_100g(*v)}))
                .collect();
            json!({"name": meal, "items": items})
        })
        .collect();
    let body = json!({"name": "Demo recomposition", "meals": meals,
                      "targets": {"kcal": 2400, "protein_g": 170, "carbs_g": 260, "fat_g": 75, "fiber_g": 30}});
    let plan: Value = http
        .post(format!("{api}/api/diets"))
        .bearer_auth(&trainer.token)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    field(&plan, "id")
}

/// The diet assigned a week ago; the client logs the last seven days' meals (portions
/// vary), then deletes one entry logged by mistake.
async fn eat(
    http: &Client,
    api: &str,
    trainer: &Demo,
    diet: &str,
    client: &Demo,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let today = Utc::now().date_naive();
    http.post(format!("{api}/api/diets/{diet}/assignments"))
        .bearer_auth(&trainer.token)
        .json(&json!({"client_id": client.id, "start_date": today - Duration::days(7), "time_zone": "UTC"}))
        .send()
        .await?
        .error_for_status()?;
    let mut last = String::new();
    for back in (0..7).rev() {
        let date = today - Duration::days(back);
        for (meal, food, v) in FOODS {
            let grams = (rng.gen_range(100.0..300.0_f64) / 10.0).round() * 10.0;
            let entry: Value = http
                .post(format!("{api}/api/diets/log"))
                .bearer_auth(&client.token)
                .json(&json!({"date": date, "meal": meal, "food": food, "grams": grams, "per_100g": per_100g(v)}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            last = field(&entry, "id")?;
        }
    }
    http.delete(format!("{api}/api/diets/log/{last}"))
        .bearer_auth(&client.token)
        .send()
        .await?
        .error_for_status()?;
    Ok(7)
}

/// The token of an email's link (`…<path>?token=<token>`), quoted-printable decoded.
pub fn token_in(email: &str, path: &str) -> Option<String> {
    let email = decoded(email);
    let start = email.find(&format!("{path}?token="))? + path.len() + 7;
    Some(
        email[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// An email body as its reader sees it (quoted-printable decoded).
pub fn decoded(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Registers an account (a no-op answered the same way if it exists), then signs in.
/// Returns its id and a token.
async fn account(
    http: &Client,
    api: &str,
    email: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<Demo> {
    let response = http
        .post(format!("{api}/api/auth/register"))
        .json(
            &json!({"email": email, "password": DEMO_PASSWORD, "display_name": name, "role": role}),
        )
        .send()
        .await?;
    if response.status() != StatusCode::ACCEPTED {
        bail!("registering {email}: {}", response.status());
    }
    let body: Value = http
        .post(format!("{api}/api/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", DEMO_PASSWORD),
        ])
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("signing in {email}"))?
        .json()
        .await?;
    let token = field(&body, "access_token")?;
    let me: Value = http
        .get(format!("{api}/api/users/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    Ok(Demo {
        id: field(&me, "id")?,
        email: email.to_owned(),
        token,
    })
}

fn field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("response without {name}"))
}

/// The demo trainer's studio, set up once: hours in Berlin, a 1:1 and a class type that
/// cost a credit, a weekly class on Tuesdays at 18:00 for six weeks, a 10-session package.
struct Studio {
    personal: String,
    class_type: String,
    package: String,
}

const PERSONAL: &str = "Demo: personal training";
const CLASS: &str = "Demo: strength class";
const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// A request as `who` with an optional JSON body; the JSON answer of a success.
async fn send(
    http: &Client,
    method: reqwest::Method,
    url: String,
    who: &Demo,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method.clone(), &url).bearer_auth(&who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{method} {url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// 09:00 (or `hour`) in Berlin on a local date, as an instant.
fn berlin(date: chrono::NaiveDate, hour: u32) -> chrono::DateTime<Utc> {
    use chrono::TimeZone;
    BERLIN
        .from_local_datetime(&date.and_hms_opt(hour, 0, 0).expect("a valid hour"))
        .earliest()
        .map_or_else(
            || {
                date.and_hms_opt(hour, 0, 0)
                    .expect("a valid hour")
                    .and_utc()
            },
            |t| t.with_timezone(&Utc),
        )
}

/// The next local date (after today) on `weekday`.
fn next(weekday: chrono::Weekday) -> chrono::NaiveDate {
    let today = Utc::now().with_timezone(&BERLIN).date_naive();
    let ahead = (i64::from(weekday.num_days_from_monday())
        - i64::from(today.weekday().num_days_from_monday()))
    .rem_euclid(7);
    today + Duration::days(if ahead == 0 { 7 } else { ahead })
}

async fn studio(http: &Client, api: &str, trainer: &Demo) -> anyhow::Result<Studio> {
    let post = reqwest::Method::POST;
    let weekly: Vec<Value> = (1..=5)
        .map(|d| json!({"weekday": d, "starts": "07:00", "ends": "19:00"}))
        .chain([json!({"weekday": 6, "starts": "09:00", "ends": "13:00"})])
        .collect();
    send(
        http,
        reqwest::Method::PUT,
        format!("{api}/api/availability/{}", trainer.id),
        trainer,
        Some(
            json!({"time_zone": "Europe/Berlin", "weekly": weekly, "buffer_after_min": 15,
                    "min_notice_min": 120, "horizon_days": 60, "max_per_day": 8}),
        ),
    )
    .await?;
    let types = send(
        http,
        reqwest::Method::GET,
        format!("{api}/api/sessions/types?owner_id={}", trainer.id),
        trainer,
        None,
    )
    .await?;
    let find = |name: &str| {
        types
            .as_array()
            .and_then(|all| all.iter().find(|t| t["name"] == name))
            .and_then(|t| t["id"].as_str().map(str::to_owned))
    };
    let personal = match find(PERSONAL) {
        Some(id) => id,
        None => field(
            &send(http, post.clone(), format!("{api}/api/sessions/types"), trainer,
                Some(json!({"name": PERSONAL, "kind": "one_on_one", "duration_min": 60, "credits": 1, "cancel_window_hours": 24}))).await?,
            "id",
        )?,
    };
    let class_type = match find(CLASS) {
        Some(id) => id,
        None => {
            let id = field(
                &send(http, post.clone(), format!("{api}/api/sessions/types"), trainer,
                    Some(json!({"name": CLASS, "kind": "group", "duration_min": 60, "capacity": 8, "credits": 1, "cancel_window_hours": 12}))).await?,
                "id",
            )?;
            // Tuesdays at 18:00 Berlin time, six weeks from the next one.
            send(
                http,
                post.clone(),
                format!("{api}/api/sessions"),
                trainer,
                Some(json!({"session_type_id": id, "trainer_id": trainer.id,
                            "starts_at": berlin(next(chrono::Weekday::Tue), 18), "weeks": 6})),
            )
            .await?;
            id
        }
    };
    let packages = send(
        http,
        reqwest::Method::GET,
        format!("{api}/api/packages?owner_id={}", trainer.id),
        trainer,
        None,
    )
    .await?;
    let package = match packages.as_array().and_then(|p| p.first()) {
        Some(p) => field(p, "id")?,
        None => field(
            &send(http, post, format!("{api}/api/packages"), trainer,
                Some(json!({"name": "Demo: 10 sessions", "sessions": 10, "validity_days": 90, "price_cents": 45000, "currency": "EUR"}))).await?,
            "id",
        )?,
    };
    Ok(Studio {
        personal,
        class_type,
        package,
    })
}

/// The client buys a package: checkout, then the simulated gateway's page pays and its
/// signed webhook lands. The schedule service learns of the relationship (or the gym
/// membership) from the change stream: until then the checkout is refused.
async fn buy(http: &Client, api: &str, client: &Demo, package: &str) -> anyhow::Result<()> {
    let mut checkout = None;
    for _ in 0..120 {
        let url = format!("{api}/api/packages/{package}/checkout");
        match send(http, reqwest::Method::POST, url, client, None).await {
            Ok(c) => {
                checkout = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
    let checkout = checkout.context("the schedule service never let the demo client buy")?;
    let page = field(&checkout, "checkout_url")?;
    let path = page
        .find("/simulator/")
        .map(|i| &page[i..])
        .context("a simulated checkout page")?;
    http.post(format!("{api}{path}/pay"))
        .send()
        .await?
        .error_for_status()
        .context("paying the demo package")?;
    Ok(())
}

/// The `n`th demo client buys the trainer's package, has four weeks of past 1:1s on Thursdays
/// recorded by the trainer (about one in ten a no-show, one in ten cancelled late),
/// books next Thursday's and the next two classes. Returns (past, upcoming) counts.
async fn bookings(
    http: &Client,
    api: &str,
    trainer: &Demo,
    studio: &Studio,
    client: &Demo,
    n: usize,
    rng: &mut StdRng,
) -> anyhow::Result<(usize, usize)> {
    let post = reqwest::Method::POST;
    buy(http, api, client, &studio.package).await?;
    // Two hours apart (a session and the trainer's buffer after it), 08:00 to 18:00.
    let hour = 8 + 2 * u32::try_from((n + 5) % 6).unwrap_or(0);
    let thursday = next(chrono::Weekday::Thu);
    let mut past = 0;
    // Four Thursdays that have ended (this week's may be today, still to come).
    for week in 1..=5 {
        let starts_at = berlin(thursday - Duration::weeks(week), hour);
        if past == 4 || starts_at + Duration::hours(1) > Utc::now() {
            continue;
        }
        // The first demo client missed their most recent session: an alert waiting.
        let outcome = match rng.gen_range(0..10) {
            _ if n == 1 && past == 0 => "no_show",
            0 => "no_show",
            1 => "late_cancelled",
            _ => "attended",
        };
        // (With more than six demo clients, some hours are taken: those are skipped.)
        if send(
            http,
            post.clone(),
            format!("{api}/api/bookings/record"),
            trainer,
            Some(
                json!({"client_id": client.id, "session_type_id": studio.personal,
                        "starts_at": starts_at, "outcome": outcome}),
            ),
        )
        .await
        .is_ok()
        {
            past += 1;
        }
    }
    let mut upcoming = 0;
    if send(http, post.clone(), format!("{api}/api/bookings"), client,
        Some(json!({"trainer_id": trainer.id, "session_type_id": studio.personal, "starts_at": berlin(thursday, hour)}))).await.is_ok()
    {
        upcoming += 1;
    }
    let classes = send(
        http,
        reqwest::Method::GET,
        format!("{api}/api/sessions?trainer_id={}", trainer.id),
        client,
        None,
    )
    .await?;
    for class in classes
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["session_type_id"] == studio.class_type.as_str())
        .take(2)
    {
        send(
            http,
            post.clone(),
            format!("{api}/api/bookings"),
            client,
            Some(json!({"session_id": class["id"]})),
        )
        .await?;
        upcoming += 1;
    }
    Ok((past, upcoming))
}
