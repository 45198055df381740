//! The authorization matrix: every endpoint × every kind of caller → expected status,
//! over one world with real relationships. Reusable: a new endpoint adds a `Case`.

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
    Anonymous,
}

pub const EVERYONE: [Who; 9] = [
    Who::Owner,
    Who::OtherClient,
    Who::Trainer,
    Who::OtherTrainer,
    Who::ExTrainer,
    Who::Gym,
    Who::OtherGym,
    Who::Admin,
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
        for db in [env.training_db(), env.progress_db()] {
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
        World {
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
            Who::Anonymous => None,
        }
    }

    fn expand(&self, path: &str) -> String {
        path.replace("{client}", &self.owner.id.to_string())
            .replace("{gym}", &self.gym_id.to_string())
            .replace("{other_gym}", &self.other_gym_id.to_string())
    }
}

pub struct Case {
    pub method: Method,
    pub path: &'static str,
    pub body: Option<Value>,
    pub expect: fn(Who) -> u16,
}

/// Runs every case for every caller; fails once, listing every mismatch.
pub async fn check(app: &TestApp, world: &World, cases: &[Case]) {
    let mut failures = String::new();
    for case in cases {
        let path = world.expand(case.path);
        for who in EVERYONE {
            let mut request = app.http.request(case.method.clone(), app.url(&path));
            if let Some(account) = world.account(who) {
                request = request.bearer_auth(&account.token);
            }
            if let Some(body) = &case.body {
                request = request.json(body);
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

/// A client's own data: the owner, their current trainer, their gym, admins.
fn client_data(who: Who) -> u16 {
    match who {
        Who::Owner | Who::Trainer | Who::Gym | Who::Admin => 200,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_for_every_caller() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let world = World::build(&env, &app).await;
    let set = json!({"exercise": "back-squat", "reps": 5, "weight_kg": 100});
    assert_eq!(app.log_set(&world.owner, set.clone()).await.status(), 201);

    let cases = [
        Case {
            method: Method::GET,
            path: "/api/progress/{client}/e1rm",
            body: None,
            expect: client_data,
        },
        Case {
            method: Method::GET,
            path: "/api/progress/{client}/volume",
            body: None,
            expect: client_data,
        },
        Case {
            method: Method::GET,
            path: "/api/workouts/sets?client_id={client}",
            body: None,
            expect: client_data,
        },
        Case {
            method: Method::GET,
            path: "/api/users/{client}",
            body: None,
            expect: client_data,
        },
        Case {
            method: Method::POST,
            path: "/api/workouts/sets",
            body: Some(set),
            // Everyone writes only their own log: clients may, nobody else.
            expect: |who| match who {
                Who::Owner | Who::OtherClient => 201,
                Who::Anonymous => 401,
                _ => 403,
            },
        },
        Case {
            method: Method::GET,
            path: "/api/gyms/{gym}/members",
            body: None,
            expect: gym_management(200),
        },
        Case {
            method: Method::POST,
            path: "/api/gyms/{gym}/invitations",
            body: Some(json!({"email": "someone@example.com", "role": "trainer"})),
            expect: gym_management(201),
        },
        Case {
            method: Method::GET,
            path: "/api/users/relationships",
            body: None,
            expect: |who| if who == Who::Anonymous { 401 } else { 200 },
        },
        Case {
            method: Method::POST,
            path: "/api/gyms",
            body: Some(json!({"name": "Another"})),
            // Gym owners already have one; only the gym role may create.
            expect: |who| match who {
                Who::Gym | Who::OtherGym => 409,
                Who::Anonymous => 401,
                _ => 403,
            },
        },
    ];
    check(&app, &world, &cases).await;
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
