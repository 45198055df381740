//! The authorization matrix: every operation of the OpenAPI document × every kind of
//! caller → expected status, over one world with real relationships. The document is
//! generated from the routers, so a route added without a `Case` here fails the test.

use std::fmt::Write;

use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{eventually, Account, TestApp, TestEnv, PASSWORD};

/// Who calls, relative to the client who owns the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Owner,
    OtherClient,
    Trainer,
    OtherTrainer,
    /// Trained the owner once; the relationship ended.
    ExTrainer,
    /// The owner of the owner's gym.
    Gym,
    OtherGym,
    Admin,
    /// A service account (client-credentials grant).
    Service,
    Anonymous,
}

pub const EVERYONE: [Who; 10] = [
    Who::Owner,
    Who::OtherClient,
    Who::Trainer,
    Who::OtherTrainer,
    Who::ExTrainer,
    Who::Gym,
    Who::OtherGym,
    Who::Admin,
    Who::Service,
    Who::Anonymous,
];

pub struct World {
    pub owner: Account,
    pub other_client: Account,
    pub trainer: Account,
    pub other_trainer: Account,
    pub ex_trainer: Account,
    pub gym: Account,
    pub gym_id: Uuid,
    pub other_gym: Account,
    pub other_gym_id: Uuid,
    pub admin: Account,
    pub service: Account,
    pub service_secret: String,
    /// A set of the owner's.
    pub set_id: Uuid,
    /// A custom exercise of the trainer's.
    pub exercise: String,
    /// A program of the trainer's, assigned to the owner twice.
    pub program: Uuid,
    pub assignment: Uuid,
    pub assignment_to_end: Uuid,
    /// A diet plan of the trainer's, assigned to the owner; a food entry of the owner's.
    pub diet: Uuid,
    pub diet_assignment: Uuid,
    pub food: Uuid,
    /// A workout session of the owner's.
    pub workout: Uuid,
    /// The trainer's 1:1 and class session types; two classes of theirs; the owner's
    /// place on the first, and the owner's 1:1 with the trainer (to cancel).
    pub session_type: Uuid,
    pub class_type: Uuid,
    pub class: Uuid,
    pub class2: Uuid,
    pub booking: Uuid,
    pub booking_to_cancel: Uuid,
    /// A package of the trainer's; a calendar feed of the owner's; a weekly series of
    /// the owner's 1:1s with the trainer.
    pub package: Uuid,
    pub feed: Uuid,
    pub series: Uuid,
}

async fn post(app: &TestApp, who: &Account, path: &str, body: Value) -> Value {
    let response = app
        .http
        .post(app.url(path))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

/// Signs in again, so the token carries what changed (a gym joined or created).
pub async fn refreshed(app: &TestApp, who: Account) -> Account {
    let body: Value = app
        .sign_in(&who.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    Account {
        token: body["access_token"].as_str().unwrap().to_owned(),
        ..who
    }
}

/// Starts a relationship: `trainer` invites `client`, who accepts.
pub async fn train(app: &TestApp, trainer: &Account, client: &Account) -> Uuid {
    let r = post(
        app,
        trainer,
        "/api/users/relationships",
        json!({"client_id": client.id}),
    )
    .await;
    let id: Uuid = r["id"].as_str().unwrap().parse().unwrap();
    post(
        app,
        client,
        &format!("/api/users/relationships/{id}/accept"),
        json!({}),
    )
    .await;
    id
}

/// A gym for `owner`, returned with the owner's refreshed token.
async fn open_gym(app: &TestApp, owner: Account, name: &str) -> (Account, Uuid) {
    let gym = post(app, &owner, "/api/gyms", json!({"name": name})).await;
    let id = gym["id"].as_str().unwrap().parse().unwrap();
    (refreshed(app, owner).await, id)
}

impl World {
    pub async fn build(env: &TestEnv, app: &TestApp) -> Self {
        let owner = app.register("client").await;
        let other_client = app.register("client").await;
        let trainer = app.register("trainer").await;
        let other_trainer = app.register("trainer").await;
        let ex_trainer = app.register("trainer").await;
        let admin = app.admin(env).await;

        train(app, &trainer, &owner).await;
        let ended = train(app, &ex_trainer, &owner).await;
        post(
            app,
            &owner,
            &format!("/api/users/relationships/{ended}/end"),
            json!({}),
        )
        .await;

        let (gym, gym_id) = open_gym(app, app.register("gym").await, "Iron Temple").await;
        let (other_gym, other_gym_id) = open_gym(app, app.register("gym").await, "Other Gym").await;
        let invitation = post(
            app,
            &gym,
            &format!("/api/gyms/{gym_id}/invitations"),
            json!({"email": owner.email, "role": "client"}),
        )
        .await;
        post(
            app,
            &owner,
            &format!(
                "/api/gyms/invitations/{}/accept",
                invitation["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;

        // The other services learn all this from the change stream.
        for db in [env.training_db(), env.schedule_db(), env.progress_db()] {
            eventually(60, "access projections", || async {
                let rows: Vec<(String, Uuid, bool)> = sqlx::query_as(
                    "select kind, grantee, active from access_grants where subject = $1",
                )
                .bind(owner.id)
                .fetch_all(&db)
                .await
                .ok()?;
                let has = |kind: &str, who: Uuid, active: bool| {
                    rows.contains(&(kind.to_owned(), who, active))
                };
                (has("trainer", trainer.id, true)
                    && has("trainer", ex_trainer.id, false)
                    && has("gym", gym_id, true))
                .then_some(())
            })
            .await;
        }
        let created = post(
            app,
            &admin,
            "/api/auth/service-accounts",
            json!({"client_id": "matrix-service"}),
        )
        .await;
        let granted: Value = app
            .grant(&[
                ("grant_type", "client_credentials"),
                ("client_id", "matrix-service"),
                ("client_secret", created["client_secret"].as_str().unwrap()),
            ])
            .await
            .json()
            .await
            .unwrap();
        let service = Account {
            id: created["id"].as_str().unwrap().parse().unwrap(),
            email: String::new(),
            token: granted["access_token"].as_str().unwrap().to_owned(),
            refresh: None,
        };
        let set = post(
            app,
            &owner,
            "/api/workouts/sets",
            json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100}),
        )
        .await;
        let exercise = post(
            app,
            &trainer,
            "/api/exercises",
            json!({"name": "Matrix Carry", "category": "strongman", "level": "beginner",
                   "primary_muscles": ["forearms"]}),
        )
        .await;
        let program = post(
            app,
            &trainer,
            "/api/programs",
            crate::programs::program(2, 100.0),
        )
        .await;
        let program: Uuid = program["id"].as_str().unwrap().parse().unwrap();
        let mut assignments = Vec::new();
        for _ in 0..2 {
            let a = post(
                app,
                &trainer,
                &format!("/api/programs/{program}/assignments"),
                json!({"client_id": owner.id, "start_date": chrono::Utc::now().date_naive(), "time_zone": "UTC"}),
            )
            .await;
            assignments.push(a["id"].as_str().unwrap().parse().unwrap());
        }
        let diet = post(
            app,
            &trainer,
            "/api/diets",
            crate::diets::diet("Matrix diet", [2200.0, 150.0, 250.0, 70.0, 30.0]),
        )
        .await;
        let diet: Uuid = diet["id"].as_str().unwrap().parse().unwrap();
        let diet_assignment = post(
            app,
            &trainer,
            &format!("/api/diets/{diet}/assignments"),
            json!({"client_id": owner.id, "start_date": chrono::Utc::now().date_naive(), "time_zone": "UTC"}),
        )
        .await;
        let food = post(
            app,
            &owner,
            "/api/diets/log",
            json!({"food": "Apple", "grams": 150, "per_100g": {"kcal": 52, "protein_g": 0.3, "carbs_g": 13.8, "fat_g": 0.2, "fiber_g": 2.4}}),
        )
        .await;
        let workout = post(app, &owner, "/api/workouts", json!({"notes": "matrix"})).await;
        let (session_type, class_type, class, class2, booking, booking_to_cancel) =
            Self::schedule(app, &trainer, &owner).await;
        let package = post(
            app,
            &trainer,
            "/api/packages",
            json!({"name": "Matrix ten", "sessions": 10, "validity_days": 90, "price_cents": 50000, "currency": "EUR"}),
        )
        .await;
        let feed = post(app, &owner, "/api/calendar/feeds", json!({})).await;
        let series = post(
            app,
            &owner,
            "/api/bookings/series",
            json!({"trainer_id": trainer.id, "session_type_id": session_type, "starts_at": Self::at(20, 15), "weeks": 2}),
        )
        .await;
        World {
            series: series[0]["series_id"].as_str().unwrap().parse().unwrap(),
            package: package["id"].as_str().unwrap().parse().unwrap(),
            feed: feed["id"].as_str().unwrap().parse().unwrap(),
            session_type,
            class_type,
            class,
            class2,
            booking,
            booking_to_cancel,
            workout: workout["id"].as_str().unwrap().parse().unwrap(),
            diet,
            diet_assignment: diet_assignment["id"].as_str().unwrap().parse().unwrap(),
            food: food["id"].as_str().unwrap().parse().unwrap(),
            program,
            assignment: assignments[0],
            assignment_to_end: assignments[1],
            set_id: set["id"].as_str().unwrap().parse().unwrap(),
            exercise: exercise["slug"].as_str().unwrap().to_owned(),
            service,
            service_secret: created["client_secret"].as_str().unwrap().to_owned(),
            owner,
            other_client,
            trainer,
            other_trainer,
            ex_trainer,
            gym,
            gym_id,
            other_gym,
            other_gym_id,
            admin,
        }
    }

    /// The trainer's hours and session types, two classes, and the owner's bookings.
    async fn schedule(
        app: &TestApp,
        trainer: &Account,
        owner: &Account,
    ) -> (Uuid, Uuid, Uuid, Uuid, Uuid, Uuid) {
        let id = |v: Value| -> Uuid { v["id"].as_str().unwrap().parse().unwrap() };
        let response = app
            .http
            .put(app.url(&format!("/api/availability/{}", trainer.id)))
            .bearer_auth(&trainer.token)
            .json(&Self::hours())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let one_on_one = id(post(
            app,
            trainer,
            "/api/sessions/types",
            json!({"name": "Matrix PT", "kind": "one_on_one", "duration_min": 60}),
        )
        .await);
        let group = id(post(
            app,
            trainer,
            "/api/sessions/types",
            json!({"name": "Matrix class", "kind": "group", "duration_min": 60, "capacity": 8}),
        )
        .await);
        let at = |days: i64, hour: u32| {
            (chrono::Utc::now().date_naive() + chrono::Duration::days(days))
                .and_hms_opt(hour, 0, 0)
                .unwrap()
                .and_utc()
        };
        let mut classes = Vec::new();
        for hour in [7, 9] {
            let scheduled = post(
                app,
                trainer,
                "/api/sessions",
                json!({"session_type_id": group, "trainer_id": trainer.id, "starts_at": at(3, hour)}),
            )
            .await;
            classes.push(id(scheduled[0].clone()));
        }
        let booking = id(post(
            app,
            owner,
            "/api/bookings",
            json!({"session_id": classes[0]}),
        )
        .await);
        let to_cancel = id(post(
            app,
            owner,
            "/api/bookings",
            json!({"trainer_id": trainer.id, "session_type_id": one_on_one, "starts_at": at(1, 12)}),
        )
        .await);
        (
            one_on_one, group, classes[0], classes[1], booking, to_cancel,
        )
    }

    /// `hour`:00 UTC, `days` from today.
    fn at(days: i64, hour: u32) -> chrono::DateTime<chrono::Utc> {
        (chrono::Utc::now().date_naive() + chrono::Duration::days(days))
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn hours() -> Value {
        let weekly: Vec<Value> = (1..=7)
            .map(|d| json!({"weekday": d, "starts": "06:00", "ends": "22:00"}))
            .collect();
        json!({"time_zone": "UTC", "weekly": weekly})
    }

    pub fn account(&self, who: Who) -> Option<&Account> {
        match who {
            Who::Owner => Some(&self.owner),
            Who::OtherClient => Some(&self.other_client),
            Who::Trainer => Some(&self.trainer),
            Who::OtherTrainer => Some(&self.other_trainer),
            Who::ExTrainer => Some(&self.ex_trainer),
            Who::Gym => Some(&self.gym),
            Who::OtherGym => Some(&self.other_gym),
            Who::Admin => Some(&self.admin),
            Who::Service => Some(&self.service),
            Who::Anonymous => None,
        }
    }

    /// A class start 10 days ahead at an hour of the caller's own, so that classes two
    /// callers schedule never overlap.
    fn slot_by_who(who: Who) -> chrono::DateTime<chrono::Utc> {
        let hour = 6 + EVERYONE.iter().position(|w| *w == who).unwrap_or(0) as u32;
        (chrono::Utc::now().date_naive() + chrono::Duration::days(10))
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    /// `{client}`, `{gym}`, `{other_gym}`, `{random}`, `{set}`, `{exercise}`, `{program}`,
    /// `{assignment}`, `{assignment_to_end}`, `{diet}`, `{diet_assignment}`, `{food}`,
    /// `{workout}`, `{trainer}`, `{session_type}`, `{class_type}`, `{class}`, `{class2}`,
    /// `{booking}`, `{booking_to_cancel}`, `{package}`, `{feed}`, `{series}`, `{series_start}`, `{yesterday}` (05:00 UTC), `{slot_by_who}`, `{today}`, `{phone}` (a number of the caller's own) and `{who}` (the
    /// caller, for bodies that must differ per caller) filled in.
    fn expand(&self, text: &str, who: Who) -> String {
        text.replace("{client}", &self.owner.id.to_string())
            // A number of the caller's own (one code per number per 30 s, across accounts).
            .replace("{phone}", &format!("+49151000000{:02}", who as u8))
            .replace("{gym}", &self.gym_id.to_string())
            .replace("{other_gym}", &self.other_gym_id.to_string())
            .replace("{random}", &Uuid::new_v4().to_string())
            .replace("{set}", &self.set_id.to_string())
            .replace("{exercise}", &self.exercise)
            .replace("{program}", &self.program.to_string())
            .replace("{assignment}", &self.assignment.to_string())
            .replace("{assignment_to_end}", &self.assignment_to_end.to_string())
            .replace("{diet}", &self.diet.to_string())
            .replace("{diet_assignment}", &self.diet_assignment.to_string())
            .replace("{food}", &self.food.to_string())
            .replace("{workout}", &self.workout.to_string())
            .replace("{trainer}", &self.trainer.id.to_string())
            .replace("{session_type}", &self.session_type.to_string())
            .replace("{class_type}", &self.class_type.to_string())
            .replace("{class2}", &self.class2.to_string())
            .replace("{class}", &self.class.to_string())
            .replace("{booking_to_cancel}", &self.booking_to_cancel.to_string())
            .replace("{booking}", &self.booking.to_string())
            .replace("{package}", &self.package.to_string())
            .replace(
                "{yesterday}",
                &(chrono::Utc::now().date_naive() - chrono::Duration::days(1))
                    .and_hms_opt(5, 0, 0)
                    .unwrap()
                    .and_utc()
                    .to_rfc3339(),
            )
            .replace("{feed}", &self.feed.to_string())
            .replace("{series_start}", &Self::at(30, 15).to_rfc3339())
            .replace("{series}", &self.series.to_string())
            .replace("{slot_by_who}", &Self::slot_by_who(who).to_rfc3339())
            .replace("{today}", &chrono::Utc::now().date_naive().to_string())
            .replace("{who}", &format!("{who:?}").to_lowercase())
    }
}

pub struct Case {
    pub method: Method,
    /// The operation's path template in the OpenAPI document.
    pub operation: &'static str,
    /// The request's path (and query), with placeholders (see `World::expand`).
    pub path: &'static str,
    /// A JSON body with placeholders, or none.
    pub body: Option<&'static str>,
    pub expect: fn(Who) -> u16,
}

impl Case {
    pub fn new(
        method: Method,
        operation: &'static str,
        path: &'static str,
        body: Option<&'static str>,
        expect: fn(Who) -> u16,
    ) -> Self {
        Self {
            method,
            operation,
            path,
            body,
            expect,
        }
    }
}

/// Runs every case for every caller; fails once, listing every mismatch.
pub async fn check(app: &TestApp, world: &World, cases: &[Case]) {
    let mut failures = String::new();
    for case in cases {
        for who in EVERYONE {
            let path = world.expand(case.path, who);
            let mut request = app.http.request(case.method.clone(), app.url(&path));
            if let Some(account) = world.account(who) {
                request = request.bearer_auth(&account.token);
            }
            if let Some(body) = case.body {
                let body: Value = serde_json::from_str(&world.expand(body, who)).unwrap();
                request = request.json(&body);
            }
            let got = request.send().await.unwrap().status().as_u16();
            let want = (case.expect)(who);
            if got != want {
                writeln!(
                    failures,
                    "{} {} as {who:?}: got {got}, want {want}",
                    case.method, case.path
                )
                .unwrap();
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix mismatches:\n{failures}"
    );
}

/// A trainer's hours, slots and calendar: the trainer, their clients (the owner), admins
/// and services (no gym here has the trainer as a member).
fn sees_trainer(who: Who) -> u16 {
    match who {
        Who::Owner | Who::Trainer | Who::Admin | Who::Service => 200,
        Who::Anonymous => 401,
        _ => 403,
    }
}

/// A client's own data: the owner, their current trainer, their gym, admins, services.
fn client_data(who: Who) -> u16 {
    match who {
        Who::Owner | Who::Trainer | Who::Gym | Who::Admin | Who::Service => 200,
        Who::Anonymous => 401,
        _ => 403,
    }
}

fn gym_management(ok: u16) -> fn(Who) -> u16 {
    match ok {
        200 => |who| match who {
            Who::Gym | Who::Admin => 200,
            Who::Anonymous => 401,
            _ => 403,
        },
        _ => |who| match who {
            Who::Gym | Who::Admin => 201,
            Who::Anonymous => 401,
            _ => 403,
        },
    }
}

fn everyone(status: u16) -> fn(Who) -> u16 {
    match status {
        200 => |_| 200,
        202 => |_| 202,
        400 => |_| 400,
        401 => |_| 401,
        403 => |_| 403,
        _ => |_| 404,
    }
}

/// Any signed-in caller gets `status`; anonymous callers 401.
/// What the client and their current trainer record for the client (measurements, goals,
/// health records).
fn records_for_client(who: Who) -> u16 {
    match who {
        Who::Owner | Who::Trainer => 201,
        Who::Anonymous => 401,
        _ => 403,
    }
}

fn signed_in(status: u16) -> fn(Who) -> u16 {
    match status {
        200 => |who| if who == Who::Anonymous { 401 } else { 200 },
        202 => |who| if who == Who::Anonymous { 401 } else { 202 },
        204 => |who| if who == Who::Anonymous { 401 } else { 204 },
        422 => |who| if who == Who::Anonymous { 401 } else { 422 },
        _ => |who| if who == Who::Anonymous { 401 } else { 404 },
    }
}

/// Trainers' (each their own), nobody else's.
fn trainers_own(ok: u16) -> fn(Who) -> u16 {
    match ok {
        200 => |who| match who {
            Who::Trainer | Who::OtherTrainer | Who::ExTrainer => 200,
            Who::Anonymous => 401,
            _ => 403,
        },
        _ => |who| match who {
            Who::Trainer | Who::OtherTrainer | Who::ExTrainer => 204,
            Who::Anonymous => 401,
            _ => 403,
        },
    }
}

fn admins_only(ok: u16) -> fn(Who) -> u16 {
    match ok {
        200 => |who| match who {
            Who::Admin => 200,
            Who::Anonymous => 401,
            _ => 403,
        },
        201 => |who| match who {
            Who::Admin => 201,
            Who::Anonymous => 401,
            _ => 403,
        },
        _ => |who| match who {
            Who::Admin => 404,
            Who::Anonymous => 401,
            _ => 403,
        },
    }
}

/// Every operation of the document except the two that end sessions, which
/// `every_operation_for_every_caller` runs last with tokens of their own.
fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        // Public: the same answer for everyone.
        Case::new(
            M::POST,
            "/api/auth/register",
            "/api/auth/register",
            Some(
                r#"{"email": "matrix-{who}-{random}@example.com", "password": "a long enough password", "display_name": "M"}"#,
            ),
            everyone(202),
        ),
        // A browser sign-in with a wrong password; a refresh without the cookie.
        Case::new(
            M::POST,
            "/api/auth/session",
            "/api/auth/session",
            Some(
                r#"{"email": "nobody-{who}-{random}@example.com", "password": "not the password"}"#,
            ),
            everyone(401),
        ),
        Case::new(
            M::POST,
            "/api/auth/session/refresh",
            "/api/auth/session/refresh",
            None,
            everyone(401),
        ),
        // A browser's sign-out takes no token, only its CSRF token (none here).
        Case::new(
            M::POST,
            "/api/auth/session/logout",
            "/api/auth/session/logout",
            None,
            everyone(403),
        ),
        // No form: no grant, whoever asks.
        Case::new(
            M::POST,
            "/api/auth/token",
            "/api/auth/token",
            None,
            everyone(400),
        ),
        Case::new(
            M::POST,
            "/api/auth/verify-email",
            "/api/auth/verify-email",
            Some(r#"{"token": "not-a-real-token-not-a-real-token"}"#),
            signed_in(404),
        ),
        Case::new(
            M::POST,
            "/api/auth/password-reset",
            "/api/auth/password-reset",
            Some(r#"{"email": "nobody-{who}@example.com"}"#),
            everyone(202),
        ),
        Case::new(
            M::POST,
            "/api/auth/password-reset/confirm",
            "/api/auth/password-reset/confirm",
            Some(
                r#"{"token": "not-a-real-token-not-a-real-token", "password": "a long enough password"}"#,
            ),
            everyone(404),
        ),
        Case::new(
            M::GET,
            "/.well-known/jwks.json",
            "/.well-known/jwks.json",
            None,
            everyone(200),
        ),
        Case::new(
            M::GET,
            "/.well-known/openid-configuration",
            "/.well-known/openid-configuration",
            None,
            everyone(200),
        ),
        // Accounts.
        Case::new(
            M::POST,
            "/api/auth/verify-email/request",
            "/api/auth/verify-email/request",
            None,
            // Every account of the world is verified; a service account has no address.
            |who| match who {
                Who::Service => 403,
                Who::Anonymous => 401,
                _ => 409,
            },
        ),
        Case::new(
            M::POST,
            "/api/auth/service-accounts",
            "/api/auth/service-accounts",
            Some(r#"{"client_id": "matrix-{who}"}"#),
            admins_only(201),
        ),
        Case::new(
            M::GET,
            "/api/auth/service-accounts",
            "/api/auth/service-accounts",
            None,
            admins_only(200),
        ),
        Case::new(
            M::POST,
            "/api/auth/service-accounts/{id}/disable",
            "/api/auth/service-accounts/{random}/disable",
            None,
            admins_only(404),
        ),
        Case::new(
            M::GET,
            "/api/users/me",
            "/api/users/me",
            None,
            |who| match who {
                Who::Service => 404,
                Who::Anonymous => 401,
                _ => 200,
            },
        ),
        Case::new(
            M::GET,
            "/api/users/{id}",
            "/api/users/{client}",
            None,
            client_data,
        ),
        // Relationships.
        Case::new(
            M::POST,
            "/api/users/relationships",
            "/api/users/relationships",
            Some(r#"{"client_id": "{client}"}"#),
            |who| match who {
                // Trains them already; one open relationship per pair.
                Who::Trainer => 409,
                Who::OtherTrainer | Who::ExTrainer => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/users/relationships",
            "/api/users/relationships",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/users/relationships/{id}/accept",
            "/api/users/relationships/{random}/accept",
            None,
            signed_in(404),
        ),
        Case::new(
            M::POST,
            "/api/users/relationships/{id}/decline",
            "/api/users/relationships/{random}/decline",
            None,
            signed_in(404),
        ),
        Case::new(
            M::POST,
            "/api/users/relationships/{id}/end",
            "/api/users/relationships/{random}/end",
            None,
            signed_in(404),
        ),
        // Profiles.
        Case::new(
            M::GET,
            "/api/profiles/me",
            "/api/profiles/me",
            None,
            signed_in(200),
        ),
        Case::new(
            M::PUT,
            "/api/profiles/me/client",
            "/api/profiles/me/client",
            Some(r#"{"goals": "stronger"}"#),
            |who| match who {
                Who::Owner | Who::OtherClient => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::PUT,
            "/api/profiles/me/trainer",
            "/api/profiles/me/trainer",
            Some(r#"{"bio": "coach"}"#),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/profiles/{id}",
            "/api/profiles/{client}",
            None,
            client_data,
        ),
        // Gyms.
        Case::new(
            M::POST,
            "/api/gyms",
            "/api/gyms",
            Some(r#"{"name": "Another"}"#),
            // Gym owners already have one; only the gym role may create.
            |who| match who {
                Who::Gym | Who::OtherGym => 409,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/gyms/invitations",
            "/api/gyms/invitations",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/gyms/invitations/{id}/accept",
            "/api/gyms/invitations/{random}/accept",
            None,
            |who| match who {
                Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::GET,
            "/api/gyms/{id}/members",
            "/api/gyms/{gym}/members",
            None,
            gym_management(200),
        ),
        Case::new(
            M::GET,
            "/api/gyms/{id}/invitations",
            "/api/gyms/{gym}/invitations",
            None,
            gym_management(200),
        ),
        Case::new(
            M::POST,
            "/api/gyms/{id}/invitations",
            "/api/gyms/{gym}/invitations",
            Some(r#"{"email": "someone@example.com", "role": "trainer"}"#),
            gym_management(201),
        ),
        Case::new(
            M::POST,
            "/api/gyms/{id}/members/{user_id}/remove",
            "/api/gyms/{gym}/members/{random}/remove",
            None,
            |who| match who {
                // The gym's owner and admins may remove: there is no such member.
                Who::Gym | Who::Admin => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Notifications, training, progress.
        Case::new(
            M::GET,
            "/api/notifications/deliveries",
            "/api/notifications/deliveries",
            None,
            signed_in(200),
        ),
        Case::new(
            M::GET,
            "/api/workouts/sets",
            "/api/workouts/sets?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::POST,
            "/api/workouts/sets",
            "/api/workouts/sets",
            Some(r#"{"exercise": "barbell-squat", "reps": 5, "weight_kg": 100}"#),
            // Everyone writes only their own log: clients may, nobody else.
            |who| match who {
                Who::Owner | Who::OtherClient => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Everyone chooses their own unit.
        Case::new(
            M::GET,
            "/api/workouts/preferences",
            "/api/workouts/preferences",
            None,
            signed_in(200),
        ),
        Case::new(
            M::PUT,
            "/api/workouts/preferences",
            "/api/workouts/preferences",
            Some(r#"{"unit": "kg"}"#),
            signed_in(200),
        ),
        // Corrections: the owner only; another client's set is not theirs to find.
        Case::new(
            M::PUT,
            "/api/workouts/sets/{id}",
            "/api/workouts/sets/{set}",
            Some(r#"{"exercise": "back-squat", "reps": 5, "weight_kg": 95}"#),
            |who| match who {
                Who::Owner => 200,
                Who::OtherClient => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::DELETE,
            "/api/workouts/sets/{id}",
            "/api/workouts/sets/{random}",
            None,
            |who| match who {
                Who::Owner | Who::OtherClient => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // The exercise library: everyone signed in searches it; trainers and gyms define
        // their own, seen by them and those they serve (the owner trains with the trainer).
        Case::new(
            M::GET,
            "/api/exercises",
            "/api/exercises?q=squat",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/exercises",
            "/api/exercises",
            Some(
                r#"{"name": "Carry {who}", "category": "strongman", "level": "beginner", "primary_muscles": ["forearms"]}"#,
            ),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer | Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/exercises/{slug}",
            "/api/exercises/{exercise}",
            None,
            |who| match who {
                Who::Owner | Who::Trainer | Who::Admin | Who::Service => 200,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::PUT,
            "/api/exercises/{slug}",
            "/api/exercises/{exercise}",
            Some(
                r#"{"name": "Matrix Carry", "category": "strongman", "level": "expert", "primary_muscles": ["forearms"]}"#,
            ),
            |who| match who {
                Who::Trainer => 200,
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // Programs: trainers and gyms write them; a template is seen by its owner (and
        // admins, services); a client's plan by those who may read the client.
        Case::new(
            M::POST,
            "/api/programs",
            "/api/programs",
            Some(
                r#"{"document": {"name": "P {who}", "weeks": [{"days": [{"offset": 0, "name": "A", "slots": [{"exercise": "barbell-squat", "sets": 3, "reps_min": 5, "reps_max": 5, "load": {"type": "absolute", "kg": 60}}]}]}]}}"#,
            ),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer | Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/programs",
            "/api/programs",
            None,
            signed_in(200),
        ),
        Case::new(
            M::GET,
            "/api/programs/{id}",
            "/api/programs/{program}",
            None,
            |who| match who {
                Who::Trainer | Who::Admin | Who::Service => 200,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::PUT,
            "/api/programs/{id}",
            "/api/programs/{program}",
            Some(
                r#"{"document": {"name": "P", "weeks": [{"days": [{"offset": 0, "name": "A", "slots": [{"exercise": "barbell-squat", "sets": 3, "reps_min": 5, "reps_max": 5, "load": {"type": "absolute", "kg": 60}}]}]}]}}"#,
            ),
            |who| match who {
                Who::Trainer => 200,
                Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/programs/{id}/clone",
            "/api/programs/{program}/clone",
            None,
            |who| match who {
                Who::Trainer => 201,
                // Only trainers and gyms own templates; the others cannot see this one.
                Who::Owner | Who::OtherClient | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/programs/{id}/assignments",
            "/api/programs/{program}/assignments",
            Some(
                r#"{"client_id": "{client}", "start_date": "{today}", "time_zone": "Europe/Berlin"}"#,
            ),
            |who| match who {
                Who::Trainer => 201,
                // The owner's gym coaches them, but cannot see the trainer's template.
                Who::Gym => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/programs/assignments",
            "/api/programs/assignments?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/programs/assignments/{id}",
            "/api/programs/assignments/{assignment}",
            None,
            |who| match client_data(who) {
                403 => 404,
                other => other,
            },
        ),
        Case::new(
            M::GET,
            "/api/programs/assignments/{id}/next",
            "/api/programs/assignments/{assignment}/next",
            None,
            |who| match client_data(who) {
                403 => 404,
                other => other,
            },
        ),
        // A new start, then a pause: who coaches the owner; the gym comes second and
        // finds the program already paused.
        Case::new(
            M::PUT,
            "/api/programs/assignments/{id}/start",
            "/api/programs/assignments/{assignment}/start",
            Some(r#"{"start_date": "{today}"}"#),
            |who| match who {
                Who::Trainer | Who::Gym => 200,
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/programs/assignments/{id}/status",
            "/api/programs/assignments/{assignment}/status",
            Some(r#"{"status": "paused"}"#),
            |who| match who {
                Who::Trainer => 200,
                Who::Gym => 409,
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/programs/assignments/{id}/end",
            "/api/programs/assignments/{assignment_to_end}/end",
            None,
            |who| match who {
                // Callers in order: the trainer ends it; the gym, which may too, finds
                // it ended; who may read but not coach is refused; the rest see nothing.
                Who::Trainer => 200,
                Who::Gym => 409,
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // Workout sessions: the client's to write; read by who may read the client;
        // commented on by who coaches them.
        Case::new(
            M::POST,
            "/api/workouts",
            "/api/workouts",
            Some(r#"{"notes": "ad hoc"}"#),
            |who| match who {
                Who::Owner | Who::OtherClient => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/workouts",
            "/api/workouts?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/workouts/{id}",
            "/api/workouts/{workout}",
            None,
            |who| match client_data(who) {
                403 => 404,
                other => other,
            },
        ),
        Case::new(
            M::PUT,
            "/api/workouts/{id}",
            "/api/workouts/{workout}",
            Some(
                r#"{"started_at": "2026-01-05T17:00:00Z", "finished_at": "2026-01-05T18:00:00Z", "perceived_effort": 7}"#,
            ),
            |who| match who {
                Who::Owner => 200,
                Who::OtherClient => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::POST,
            "/api/workouts/{id}/comments",
            "/api/workouts/{workout}/comments",
            Some(r#"{"body": "Solid work, {who}"}"#),
            |who| match who {
                Who::Trainer | Who::Gym => 201,
                // They may read the session, but do not coach the client.
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::DELETE,
            "/api/workouts/{id}",
            "/api/workouts/{random}",
            None,
            |who| match who {
                Who::Owner | Who::OtherClient => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/notifications/inbox",
            "/api/notifications/inbox",
            None,
            signed_in(200),
        ),
        // The inbox, its count and its stream are the caller's own: no parameter names
        // another user; another's notification is not found (alerts.rs reads one).
        Case::new(
            M::GET,
            "/api/notifications/inbox/unread",
            "/api/notifications/inbox/unread",
            None,
            signed_in(200),
        ),
        Case::new(
            M::GET,
            "/api/notifications/stream",
            "/api/notifications/stream",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/notifications/inbox/read",
            "/api/notifications/inbox/read",
            Some("{}"),
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/notifications/inbox/{notification_id}/read",
            "/api/notifications/inbox/{random}/read",
            None,
            signed_in(404),
        ),
        // Preferences are the caller's own; deliveries one's own or, for admins, anyone's;
        // replaying a dead one is an admin's.
        Case::new(
            M::GET,
            "/api/notifications/preferences",
            "/api/notifications/preferences",
            None,
            signed_in(200),
        ),
        Case::new(
            M::PUT,
            "/api/notifications/preferences",
            "/api/notifications/preferences",
            Some(
                r#"{"locale": {"time_zone": "America/New_York", "units": "imperial"}, "email": {"progress": true, "attendance": true, "bookings": false, "feedback": true, "reminders": true}, "sms": {"progress": false, "attendance": true, "bookings": false, "feedback": false, "reminders": true}, "push": {"progress": true, "attendance": true, "bookings": true, "feedback": true, "reminders": true}, "quiet_hours": {"time_zone": "Europe/Berlin", "starts": "22:00", "ends": "07:00"}}"#,
            ),
            signed_in(200),
        ),
        Case::new(
            M::GET,
            "/api/notifications/alert-deliveries",
            "/api/notifications/alert-deliveries?user_id={client}",
            None,
            |who| match who {
                Who::Owner | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::POST,
            "/api/notifications/alert-deliveries/{id}/replay",
            "/api/notifications/alert-deliveries/{random}/replay",
            None,
            admins_only(404),
        ),
        // Web push subscriptions and the SMS number are the caller's own: no parameter names
        // another user, another's subscription is not found (channels.rs deletes one). The
        // gateway's receipts are signed, not signed in: unsigned, they are refused.
        Case::new(
            M::GET,
            "/api/notifications/push/key",
            "/api/notifications/push/key",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/notifications/push/subscriptions",
            "/api/notifications/push/subscriptions",
            Some(
                r#"{"endpoint": "http://169.254.169.254/latest", "keys": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}"#,
            ),
            signed_in(422),
        ),
        Case::new(
            M::GET,
            "/api/notifications/push/subscriptions",
            "/api/notifications/push/subscriptions",
            None,
            signed_in(200),
        ),
        Case::new(
            M::DELETE,
            "/api/notifications/push/subscriptions/{id}",
            "/api/notifications/push/subscriptions/{random}",
            None,
            signed_in(404),
        ),
        Case::new(
            M::GET,
            "/api/notifications/phone",
            "/api/notifications/phone",
            None,
            signed_in(404),
        ),
        Case::new(
            M::PUT,
            "/api/notifications/phone",
            "/api/notifications/phone",
            Some(r#"{"number": "{phone}"}"#),
            signed_in(202),
        ),
        Case::new(
            M::POST,
            "/api/notifications/phone/verify",
            "/api/notifications/phone/verify",
            Some(r#"{"code": "abcdef"}"#),
            signed_in(422),
        ),
        Case::new(
            M::DELETE,
            "/api/notifications/phone",
            "/api/notifications/phone",
            None,
            signed_in(204),
        ),
        Case::new(
            M::POST,
            "/api/notifications/sms/receipts",
            "/api/notifications/sms/receipts",
            Some(
                r#"{"message_id": "m", "reference": "r", "status": "delivered", "at": "2026-12-02T10:00:00Z"}"#,
            ),
            |_| 400,
        ),
        // Alert settings are a trainer's own (for any client: they shape only the alerts
        // that trainer receives); alerts.rs tunes them per client.
        Case::new(
            M::GET,
            "/api/notifications/alert-settings",
            "/api/notifications/alert-settings",
            None,
            trainers_own(200),
        ),
        Case::new(
            M::PUT,
            "/api/notifications/alert-settings/{rule}",
            "/api/notifications/alert-settings/no_show?client_id={client}",
            Some(r#"{"enabled": false, "cooldown_minutes": 0}"#),
            trainers_own(200),
        ),
        Case::new(
            M::DELETE,
            "/api/notifications/alert-settings/{rule}",
            "/api/notifications/alert-settings/no_show?client_id={client}",
            None,
            trainers_own(204),
        ),
        // Diets: written by trainers and gyms, seen by their owner (and admins, services);
        // assigned by who coaches the client; the food log is the client's to write.
        Case::new(
            M::POST,
            "/api/diets",
            "/api/diets",
            Some(
                r#"{"name": "D {who}", "targets": {"kcal": 2000, "protein_g": 150, "carbs_g": 200, "fat_g": 60, "fiber_g": 30}}"#,
            ),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer | Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(M::GET, "/api/diets", "/api/diets", None, signed_in(200)),
        Case::new(
            M::GET,
            "/api/diets/{id}",
            "/api/diets/{diet}",
            None,
            |who| match who {
                Who::Trainer | Who::Admin | Who::Service => 200,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::PUT,
            "/api/diets/{id}",
            "/api/diets/{diet}",
            Some(
                r#"{"name": "Matrix diet", "targets": {"kcal": 2100, "protein_g": 150, "carbs_g": 220, "fat_g": 70, "fiber_g": 30}}"#,
            ),
            |who| match who {
                Who::Trainer => 200,
                // They see it, but it is not theirs to edit.
                Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // Before the assignment case below, which ends the diets the owner follows.
        Case::new(
            M::POST,
            "/api/diets/assignments/{id}/end",
            "/api/diets/assignments/{diet_assignment}/end",
            None,
            |who| match who {
                Who::Trainer => 200,
                Who::Gym => 409,
                Who::Owner | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/diets/{id}/assignments",
            "/api/diets/{diet}/assignments",
            Some(r#"{"client_id": "{client}", "start_date": "{today}", "time_zone": "UTC"}"#),
            |who| match who {
                Who::Trainer => 201,
                // The owner's gym coaches them, but cannot see the trainer's plan.
                Who::Gym => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/diets/assignments",
            "/api/diets/assignments?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/diets/log",
            "/api/diets/log?client_id={client}&date={today}",
            None,
            client_data,
        ),
        Case::new(
            M::POST,
            "/api/diets/log",
            "/api/diets/log",
            Some(
                r#"{"food": "Banana", "grams": 120, "per_100g": {"kcal": 89, "protein_g": 1.1, "carbs_g": 22.8, "fat_g": 0.3, "fiber_g": 2.6}}"#,
            ),
            |who| match who {
                Who::Owner | Who::OtherClient => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::DELETE,
            "/api/diets/log/{id}",
            "/api/diets/log/{food}",
            None,
            |who| match who {
                Who::Owner => 204,
                Who::OtherClient => 404,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/nutrition",
            "/api/progress/{client}/nutrition",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/e1rm",
            "/api/progress/{client}/e1rm",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/volume",
            "/api/progress/{client}/volume",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/series",
            "/api/progress/{client}/series?metric=volume&bucket=week",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/records",
            "/api/progress/{client}/records",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/muscles",
            "/api/progress/{client}/muscles",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/workload",
            "/api/progress/{client}/workload",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/plateaus",
            "/api/progress/{client}/plateaus",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/progress/{client_id}/adherence",
            "/api/progress/{client}/adherence",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/analytics/trainers/{trainer_id}/at-risk",
            "/api/analytics/trainers/{trainer}/at-risk",
            None,
            |who| match who {
                Who::Trainer | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Trainer and gym KPIs: the gym's owner and admins; the trainer, admins (and the
        // owner of a gym the trainer belongs to: none here).
        Case::new(
            M::GET,
            "/api/analytics/gyms/{gym_id}/kpis",
            "/api/analytics/gyms/{gym}/kpis",
            None,
            gym_management(200),
        ),
        Case::new(
            M::GET,
            "/api/analytics/gyms/{gym_id}/series",
            "/api/analytics/gyms/{gym}/series?metric=bookings",
            None,
            gym_management(200),
        ),
        Case::new(
            M::GET,
            "/api/analytics/trainers/{trainer_id}/kpis",
            "/api/analytics/trainers/{trainer}/kpis",
            None,
            |who| match who {
                Who::Trainer | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Exports: whoever may read the data.
        Case::new(
            M::GET,
            "/api/progress/{client_id}/export",
            "/api/progress/{client}/export?dataset=sets&format=csv",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/analytics/gyms/{gym_id}/export",
            "/api/analytics/gyms/{gym}/export?dataset=daily&format=parquet",
            None,
            gym_management(200),
        ),
        Case::new(
            M::GET,
            "/api/analytics/trainers/{trainer_id}/export",
            "/api/analytics/trainers/{trainer}/export?dataset=clients&format=csv",
            None,
            |who| match who {
                Who::Trainer | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Body metrics: the client and their current trainer record; those who may read
        // the client's data read; health records only the client, their trainer, admins.
        Case::new(
            M::GET,
            "/api/metrics/types",
            "/api/metrics/types",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/metrics/types",
            "/api/metrics/types",
            Some(r#"{"name": "Grip of {who}", "unit": "kg"}"#),
            |who| match who {
                Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 201,
            },
        ),
        Case::new(
            M::POST,
            "/api/metrics/{client_id}/measurements",
            "/api/metrics/{client}/measurements",
            Some(r#"{"metric": "weight", "value": 80.5}"#),
            records_for_client,
        ),
        Case::new(
            M::GET,
            "/api/metrics/{client_id}/measurements",
            "/api/metrics/{client}/measurements?metric=weight",
            None,
            client_data,
        ),
        Case::new(
            M::DELETE,
            "/api/metrics/measurements/{id}",
            "/api/metrics/measurements/{random}",
            None,
            signed_in(404),
        ),
        Case::new(
            M::POST,
            "/api/metrics/{client_id}/goals",
            "/api/metrics/{client}/goals",
            Some(r#"{"kind": "weight", "target_kg": 75, "by": "{today}"}"#),
            records_for_client,
        ),
        Case::new(
            M::GET,
            "/api/metrics/{client_id}/goals",
            "/api/metrics/{client}/goals",
            None,
            client_data,
        ),
        Case::new(
            M::DELETE,
            "/api/metrics/goals/{id}",
            "/api/metrics/goals/{random}",
            None,
            signed_in(404),
        ),
        Case::new(
            M::POST,
            "/api/metrics/{client_id}/health-records",
            "/api/metrics/{client}/health-records",
            Some(r#"{"kind": "injury", "title": "Sprained ankle"}"#),
            records_for_client,
        ),
        Case::new(
            M::GET,
            "/api/metrics/{client_id}/health-records",
            "/api/metrics/{client}/health-records",
            None,
            |who| match who {
                Who::Owner | Who::Trainer | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::DELETE,
            "/api/metrics/health-records/{id}",
            "/api/metrics/health-records/{random}",
            None,
            signed_in(404),
        ),
        // Scheduling.
        Case::new(
            M::GET,
            "/api/availability/{trainer_id}",
            "/api/availability/{trainer}",
            None,
            sees_trainer,
        ),
        Case::new(
            M::PUT,
            "/api/availability/{trainer_id}",
            "/api/availability/{trainer}",
            Some(
                r#"{"time_zone": "UTC", "weekly": [{"weekday": 1, "starts": "06:00", "ends": "22:00"}, {"weekday": 2, "starts": "06:00", "ends": "22:00"}, {"weekday": 3, "starts": "06:00", "ends": "22:00"}, {"weekday": 4, "starts": "06:00", "ends": "22:00"}, {"weekday": 5, "starts": "06:00", "ends": "22:00"}, {"weekday": 6, "starts": "06:00", "ends": "22:00"}, {"weekday": 7, "starts": "06:00", "ends": "22:00"}]}"#,
            ),
            |who| match who {
                Who::Trainer | Who::Admin => 200,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/availability/{trainer_id}/slots",
            "/api/availability/{trainer}/slots?session_type_id={session_type}",
            None,
            sees_trainer,
        ),
        Case::new(
            M::POST,
            "/api/sessions/types",
            "/api/sessions/types",
            Some(r#"{"name": "PT by {who}", "kind": "one_on_one", "duration_min": 45}"#),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer | Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/sessions/types",
            "/api/sessions/types?owner_id={trainer}",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/sessions/rooms",
            "/api/sessions/rooms",
            Some(
                r#"{"name": "Room of {who}", "time_zone": "Europe/Berlin", "hours": [{"weekday": 1, "starts": "06:00", "ends": "22:00"}]}"#,
            ),
            |who| match who {
                Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/sessions/rooms",
            "/api/sessions/rooms?gym_id={gym}",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/sessions",
            "/api/sessions",
            Some(
                r#"{"session_type_id": "{class_type}", "trainer_id": "{trainer}", "starts_at": "{slot_by_who}"}"#,
            ),
            |who| match who {
                Who::Trainer | Who::Admin => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/sessions",
            "/api/sessions?trainer_id={trainer}",
            None,
            sees_trainer,
        ),
        Case::new(
            M::GET,
            "/api/sessions/{id}",
            "/api/sessions/{class}",
            None,
            |who| match who {
                Who::Owner | Who::Trainer | Who::Admin | Who::Service => 200,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // Clients book for themselves, on classes of a trainer they train with or share a gym with.
        Case::new(
            M::POST,
            "/api/bookings",
            "/api/bookings",
            Some(r#"{"session_id": "{class2}"}"#),
            |who| match who {
                Who::Owner => 201,
                Who::OtherClient => 422,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/bookings",
            "/api/bookings?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::GET,
            "/api/bookings/{id}",
            "/api/bookings/{booking}",
            None,
            |who| match who {
                Who::Owner | Who::Trainer | Who::Gym | Who::Admin | Who::Service => 200,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // The owner cancels first; the trainer and admins may too, and find it cancelled.
        Case::new(
            M::POST,
            "/api/bookings/{id}/cancel",
            "/api/bookings/{booking_to_cancel}/cancel",
            None,
            |who| match who {
                Who::Owner => 200,
                Who::Trainer | Who::Admin => 409,
                Who::Gym | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/bookings/{id}/check-in",
            "/api/bookings/{booking}/check-in",
            None,
            // Three days ahead: the window is not open yet for those who may check in.
            |who| match who {
                Who::Owner | Who::Trainer => 409,
                Who::Gym | Who::Admin | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/bookings/{id}/attendance",
            "/api/bookings/{booking}/attendance",
            Some(r#"{"outcome": "attended"}"#),
            // Not started yet: a conflict for those who may mark it.
            |who| match who {
                Who::Trainer | Who::Admin => 409,
                Who::Owner | Who::Gym | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/bookings/{id}/reschedule",
            "/api/bookings/{booking}/reschedule",
            // A class place moves to a class, not a time: 422 for those who may move it.
            Some(r#"{"starts_at": "{slot_by_who}"}"#),
            |who| match who {
                Who::Owner | Who::Trainer | Who::Admin => 422,
                Who::Gym | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        Case::new(
            M::POST,
            "/api/packages",
            "/api/packages",
            Some(
                r#"{"name": "Pack of {who}", "sessions": 5, "validity_days": 60, "price_cents": 20000, "currency": "EUR"}"#,
            ),
            |who| match who {
                Who::Trainer | Who::OtherTrainer | Who::ExTrainer | Who::Gym | Who::OtherGym => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/packages",
            "/api/packages?owner_id={trainer}",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/packages/{id}/checkout",
            "/api/packages/{package}/checkout",
            None,
            |who| match who {
                Who::Owner => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // Unsigned: refused, whoever sends it (the gateway authenticates by signature).
        Case::new(
            M::POST,
            "/api/payments/webhook",
            "/api/payments/webhook",
            Some(
                r#"{"id": "evt_matrix", "type": "checkout.completed", "checkout": "none", "amount_cents": 1, "currency": "EUR"}"#,
            ),
            everyone(400),
        ),
        Case::new(
            M::GET,
            "/api/credits",
            "/api/credits?client_id={client}",
            None,
            client_data,
        ),
        Case::new(
            M::POST,
            "/api/calendar/feeds",
            "/api/calendar/feeds",
            None,
            |who| match who {
                Who::Owner
                | Who::OtherClient
                | Who::Trainer
                | Who::OtherTrainer
                | Who::ExTrainer => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::GET,
            "/api/calendar/feeds",
            "/api/calendar/feeds",
            None,
            signed_in(200),
        ),
        Case::new(
            M::POST,
            "/api/calendar/feeds/{id}/revoke",
            "/api/calendar/feeds/{feed}/revoke",
            None,
            |who| match who {
                Who::Owner => 204,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
        // The token is the authorization: a wrong one finds nothing, whoever asks.
        Case::new(
            M::GET,
            "/api/calendar/{token}",
            "/api/calendar/{random}",
            None,
            everyone(404),
        ),
        // Trainers record sessions of their own clients; other trainers don't offer the type.
        Case::new(
            M::POST,
            "/api/bookings/record",
            "/api/bookings/record",
            Some(
                r#"{"client_id": "{client}", "session_type_id": "{session_type}", "starts_at": "{yesterday}", "outcome": "attended"}"#,
            ),
            |who| match who {
                Who::Trainer => 201,
                Who::OtherTrainer | Who::ExTrainer => 422,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        Case::new(
            M::POST,
            "/api/bookings/series",
            "/api/bookings/series",
            Some(
                r#"{"trainer_id": "{trainer}", "session_type_id": "{session_type}", "starts_at": "{series_start}", "weeks": 2}"#,
            ),
            |who| match who {
                Who::Owner => 201,
                Who::OtherClient => 422,
                Who::Anonymous => 401,
                _ => 403,
            },
        ),
        // The owner cancels what is left; the trainer and admins may too, and find nothing left.
        Case::new(
            M::POST,
            "/api/bookings/series/{id}/cancel",
            "/api/bookings/series/{series}/cancel",
            None,
            |who| match who {
                Who::Owner | Who::Trainer | Who::Admin => 200,
                Who::Gym | Who::Service => 403,
                Who::Anonymous => 401,
                _ => 404,
            },
        ),
    ]
}

/// Signs everyone in again (fresh tokens), as the session-ending cases need.
async fn fresh_tokens(app: &TestApp, world: World) -> World {
    let mut world = World {
        owner: refreshed(app, world.owner).await,
        other_client: refreshed(app, world.other_client).await,
        trainer: refreshed(app, world.trainer).await,
        other_trainer: refreshed(app, world.other_trainer).await,
        ex_trainer: refreshed(app, world.ex_trainer).await,
        gym: refreshed(app, world.gym).await,
        other_gym: refreshed(app, world.other_gym).await,
        admin: refreshed(app, world.admin).await,
        ..world
    };
    let granted: Value = app
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", "matrix-service"),
            ("client_secret", &world.service_secret),
        ])
        .await
        .json()
        .await
        .unwrap();
    world.service.token = granted["access_token"].as_str().unwrap().to_owned();
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_for_every_caller() {
    let mut env = TestEnv::new().await;
    // Ten callers sign in again twice, from one address.
    env.settings.auth.login_attempts_per_address_per_minute = 1000;
    let app = env.start(&[Target::All]).await;
    let world = World::build(&env, &app).await;
    let set = json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100});
    assert_eq!(app.log_set(&world.owner, set).await.status(), 201);

    // Completeness: every operation of the generated document has a case (the two
    // session-ending ones below included), and every case an operation.
    let doc: Value = app.public_json("/api/openapi.json").await;
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let cases = cases();
    let mut covered: std::collections::BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.method.to_string(), c.operation.to_owned()))
        .collect();
    covered.insert(("POST".into(), "/api/auth/logout".into()));
    covered.insert(("POST".into(), "/api/auth/logout-all".into()));
    assert_eq!(
        documented.difference(&covered).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "operations without an authorization case"
    );
    assert_eq!(
        covered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "cases for operations the document does not have"
    );

    check(&app, &world, &cases).await;

    // Last, each with fresh tokens: they end the caller's sessions.
    let mut world = world;
    for operation in ["/api/auth/logout", "/api/auth/logout-all"] {
        world = fresh_tokens(&app, world).await;
        check(
            &app,
            &world,
            &[Case::new(
                Method::POST,
                operation,
                operation,
                None,
                signed_in(204),
            )],
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_notes_reach_only_the_client_their_trainer_and_admins_and_every_read_is_audited() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let world = World::build(&env, &app).await;
    let profile = json!({"goals": "first pull-up", "birthdate": "1990-04-01", "height_cm": 172.5,
                         "experience": "beginner", "health_notes": "old ACL injury, left knee"});
    let put = app
        .http
        .put(app.url("/api/profiles/me/client"))
        .bearer_auth(&world.owner.token)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let bad = app
        .http
        .put(app.url("/api/profiles/me/client"))
        .bearer_auth(&world.owner.token)
        .json(&json!({"height_cm": 20, "experience": "guru", "birthdate": "2024-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");

    let path = format!("/api/profiles/{}", world.owner.id);
    for (who, health) in [
        (Who::Owner, true),
        (Who::Trainer, true),
        (Who::Admin, true),
        (Who::Gym, false),
    ] {
        let body: Value = app
            .get(world.account(who).unwrap(), &path)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["kind"], "client");
        assert_eq!(body["goals"], "first pull-up", "{who:?}");
        assert_eq!(
            body.get("health_notes").is_some(),
            health,
            "{who:?} health notes: {body}"
        );
    }
    // Trainers' profiles are a directory for anyone signed in.
    let trainer_profile = json!({"bio": "Strength coach", "specialties": ["powerlifting"],
                                 "certifications": ["NSCA-CSCS"], "time_zone": "Europe/Paris"});
    let put = app
        .http
        .put(app.url("/api/profiles/me/trainer"))
        .bearer_auth(&world.trainer.token)
        .json(&trainer_profile)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let seen: Value = app
        .get(
            &world.other_client,
            &format!("/api/profiles/{}", world.trainer.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["time_zone"], "Europe/Paris");

    // The trainer's and the admin's reads are on record; the owner's own read is not.
    let topic = env.topic("fitsync.users");
    let audits: Vec<Value> = eventually(30, "two audit events", || async {
        let events = env.read_topic(&topic, 1).await;
        let audits: Vec<Value> = events
            .iter()
            .filter_map(|m| serde_json::from_slice::<Value>(rdkafka::Message::payload(m)?).ok())
            .filter(|e| e["type"] == "fitsync.audit.health_data_read.v1")
            .collect();
        (audits.len() == 2).then_some(audits)
    })
    .await;
    let readers: Vec<&str> = audits
        .iter()
        .map(|a| a["data"]["reader_role"].as_str().unwrap())
        .collect();
    assert_eq!(readers, ["trainer", "admin"]);
    assert!(audits
        .iter()
        .all(|a| a["subject"] == world.owner.id.to_string()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_relationship_ends_access() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    let path = format!("/api/progress/{}/e1rm", client.id);
    assert_eq!(app.get(&trainer, &path).await.status(), 403);

    // The invited side must answer; the inviter cannot accept for them.
    let invite = post(
        &app,
        &client,
        "/api/users/relationships",
        json!({"trainer_id": trainer.id}),
    )
    .await;
    let id = invite["id"].as_str().unwrap();
    let self_accept = app
        .http
        .post(app.url(&format!("/api/users/relationships/{id}/accept")))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(self_accept.status(), 403);
    assert_eq!(
        app.get(&trainer, &path).await.status(),
        403,
        "an invitation grants nothing"
    );
    post(
        &app,
        &trainer,
        &format!("/api/users/relationships/{id}/accept"),
        json!({}),
    )
    .await;
    eventually(60, "the trainer's access", || async {
        (app.get(&trainer, &path).await.status() == 200).then_some(())
    })
    .await;

    // A stranger cannot see or end it; either party can end it.
    let stranger = app.register("trainer").await;
    let end = |who: &Account| {
        app.http
            .post(app.url(&format!("/api/users/relationships/{id}/end")))
            .bearer_auth(&who.token)
            .send()
    };
    assert_eq!(end(&stranger).await.unwrap().status(), 404);
    assert_eq!(end(&client).await.unwrap().status(), 200);
    eventually(60, "access to end", || async {
        (app.get(&trainer, &path).await.status() == 403).then_some(())
    })
    .await;
    assert_eq!(end(&client).await.unwrap().status(), 409, "already ended");

    // History is kept, and visible to both sides.
    let history: Value = app
        .get(&trainer, "/api/users/relationships")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history[0]["status"], "ended");
    assert_eq!(history[0]["ended_by"], client.id.to_string());

    // Bad input.
    let bad = app
        .http
        .post(app.url("/api/users/relationships"))
        .bearer_auth(&client.token)
        .json(&json!({"trainer_id": stranger.id, "client_id": client.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let not_a_trainer = app
        .http
        .post(app.url("/api/users/relationships"))
        .bearer_auth(&client.token)
        .json(&json!({"trainer_id": client.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_trainer.status(), 404, "no such trainer");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_gym_ends_the_gyms_access() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let (gym, gym_id) = open_gym(&app, app.register("gym").await, "Barbell Club").await;
    let path = format!("/api/progress/{}/volume", client.id);
    assert_eq!(app.get(&gym, &path).await.status(), 403);

    // Only the invited address, in the invited role, accepts.
    let invitation = post(
        &app,
        &gym,
        &format!("/api/gyms/{gym_id}/invitations"),
        json!({"email": client.email, "role": "client"}),
    )
    .await;
    let accept = format!(
        "/api/gyms/invitations/{}/accept",
        invitation["id"].as_str().unwrap()
    );
    let someone = app.register("client").await;
    let wrong = app
        .http
        .post(app.url(&accept))
        .bearer_auth(&someone.token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let mine: Value = app
        .get(&client, "/api/gyms/invitations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    post(&app, &client, &accept, json!({})).await;
    let again = app
        .http
        .post(app.url(&accept))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    eventually(60, "the gym's access", || async {
        (app.get(&gym, &path).await.status() == 200).then_some(())
    })
    .await;
    let members: Value = app
        .get(&gym, &format!("/api/gyms/{gym_id}/members"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        members.as_array().unwrap().len(),
        2,
        "the owner and the client: {members}"
    );

    // The member leaves.
    let leave = app
        .http
        .post(app.url(&format!("/api/gyms/{gym_id}/members/{}/remove", client.id)))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(leave.status(), 204);
    eventually(60, "the gym's access to end", || async {
        (app.get(&gym, &path).await.status() == 403).then_some(())
    })
    .await;
    app.stop().await;
}
