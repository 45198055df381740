//! Demo data, loaded through the public API so it travels the whole pipeline
//! (outbox → Kafka → analytics → progress tables, and OpenSearch).

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

pub const DEMO_PASSWORD: &str = "fitsync-demo-password";

/// Starting working weights (kg) of the demo program.
const LIFTS: [(&str, f64); 4] = [
    ("back-squat", 80.0),
    ("bench-press", 60.0),
    ("deadlift", 100.0),
    ("overhead-press", 40.0),
];

pub async fn run(api: &str, clients: usize, weeks: u32) -> anyhow::Result<()> {
    let http = Client::new();
    for i in 1..=2 {
        account(
            &http,
            api,
            &format!("demo.trainer{i}@fitsync.dev"),
            &format!("Demo Trainer {i}"),
            "trainer",
        )
        .await?;
    }
    let mut rng = StdRng::seed_from_u64(7);
    for i in 1..=clients {
        let email = format!("demo.client{i}@fitsync.dev");
        let (id, token) =
            account(&http, api, &email, &format!("Demo Client {i}"), "client").await?;
        let existing: Value = http
            .get(format!("{api}/api/workouts/sets?limit=1"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if existing.as_array().is_some_and(|a| !a.is_empty()) {
            println!("{email}: already has training, skipped");
            continue;
        }
        let logged = log_program(&http, api, &token, weeks, &mut rng).await?;
        println!("{email} ({id}): {logged} sets over {weeks} weeks");
    }
    println!("demo accounts use the password {DEMO_PASSWORD:?}");
    Ok(())
}

/// Registers an account (a no-op answered the same way if it exists), then signs in.
/// Returns its id and a token.
async fn account(
    http: &Client,
    api: &str,
    email: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<(String, String)> {
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
    Ok((field(&me, "id")?, token))
}

/// Three sessions a week, every lift 3 × 5 with a slow linear progression.
async fn log_program(
    http: &Client,
    api: &str,
    token: &str,
    weeks: u32,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let start = Utc::now() - Duration::weeks(i64::from(weeks));
    let strength: f64 = rng.gen_range(0.8..1.25);
    let mut logged = 0;
    for week in 0..weeks {
        for session in 0..3 {
            let at = start
                + Duration::weeks(i64::from(week))
                + Duration::days(i64::from(session) * 2)
                + Duration::hours(18);
            for (lift, base) in LIFTS {
                let weight = ((base * strength + 2.5 * f64::from(week)) / 2.5).round() * 2.5;
                for set in 0..3 {
                    let body = json!({
                        "exercise": lift, "reps": 5, "weight_kg": weight,
                        "rir": rng.gen_range(0..=3), "performed_at": at + Duration::minutes(set * 4),
                    });
                    http.post(format!("{api}/api/workouts/sets"))
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await?
                        .error_for_status()?;
                    logged += 1;
                }
            }
        }
    }
    Ok(logged)
}

fn field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("response without {name}"))
}
