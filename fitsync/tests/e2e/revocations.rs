//! The revocation mirror (`Revocations::mirrored`), on the real Redis: a revocation
//! applies at once in the process that made it and reaches another process's mirror by
//! its message; one the mirror never heard is read when its subscription starts over;
//! and a mirror that cannot subscribe leaves every check to Redis.

use fitsync_platform::{
    auth::{Claims, Revocations},
    config::RedisSettings,
    Role,
};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::harness::{eventually, TestEnv};

/// A live access token's claims for `sub`, issued a second ago.
fn claims(sub: Uuid) -> Claims {
    issued(sub, chrono::Utc::now() - chrono::Duration::seconds(1))
}

/// A live access token's claims for `sub`, issued at `at` (its id carries the instant,
/// as `KeySet::issue`'s does).
fn issued(sub: Uuid, at: chrono::DateTime<chrono::Utc>) -> Claims {
    let now = at.timestamp();
    let nanos = at.timestamp_subsec_nanos();
    Claims {
        iss: "fitsync-test".into(),
        aud: "fitsync".into(),
        sub,
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now).unwrap(),
            nanos,
        )),
        role: Role::Client,
        gym: None,
        csrf: None,
    }
}

/// A process's revocations: its own command connection, a mirror subscribed through
/// `subscribe`.
async fn process(
    env: &TestEnv,
    subscribe: &RedisSettings,
    stop: &CancellationToken,
) -> Revocations {
    let redis = fitsync_platform::redis::connect(&env.settings.redis)
        .await
        .unwrap();
    Revocations::mirrored(redis, subscribe, stop.clone()).unwrap()
}

/// Waits until `r`'s mirror is live after more than `syncs` reads of every revocation.
async fn live_after(r: &Revocations, syncs: u64) {
    eventually(10, "the mirror live", || async {
        matches!(r.mirror_state(), Some((true, n)) if n > syncs).then_some(())
    })
    .await;
}

async fn redis(env: &TestEnv) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.settings.redis.url.expose_secret())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Writes a token's revocation straight into Redis, with no message: what a mirror
/// that lost the message would never hear.
async fn revoke_silently(env: &TestEnv, c: &Claims) {
    let key = format!("{}revoked:jti:{}", env.settings.redis.key_prefix, c.jti);
    redis::cmd("SET")
        .arg(key)
        .arg(1)
        .arg("EX")
        .arg(900)
        .query_async::<()>(&mut redis(env).await)
        .await
        .unwrap();
}

/// The ids of the server's subscribed connections.
async fn subscribers(env: &TestEnv) -> Vec<String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis(env).await)
        .await
        .unwrap();
    list.lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_revocation_applies_at_once_where_it_is_made_and_by_its_message_elsewhere() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let here = process(&env, &env.settings.redis, &stop).await;
    let there = process(&env, &env.settings.redis, &stop).await;
    live_after(&here, 0).await;
    live_after(&there, 0).await;
    let (ana, ben) = (claims(Uuid::new_v4()), claims(Uuid::new_v4()));
    for r in [&here, &there] {
        assert!(!r.is_revoked(&ana).await.unwrap());
        assert!(!r.is_revoked(&ben).await.unwrap());
    }

    // Logout: at once here, with no wait; there when its message arrives.
    here.revoke_token(&ana).await.unwrap();
    assert!(
        here.is_revoked(&ana).await.unwrap(),
        "at once where it was made"
    );
    eventually(
        10,
        "the revocation's message in the other process",
        || async { there.is_revoked(&ana).await.unwrap().then_some(()) },
    )
    .await;
    // Answered from the mirror: live all along, never read whole again.
    assert_eq!(there.mirror_state(), Some((true, 1)));
    assert!(!there.is_revoked(&ben).await.unwrap(), "that token only");

    // Log out everywhere, from the other side: Ben's tokens issued before, not after.
    there.revoke_user(ben.sub, 900).await.unwrap();
    let after = issued(ben.sub, chrono::Utc::now() + chrono::Duration::seconds(1));
    assert!(there.is_revoked(&ben).await.unwrap());
    eventually(10, "the user's cutoff in the other process", || async {
        here.is_revoked(&ben).await.unwrap().then_some(())
    })
    .await;
    assert!(
        !here.is_revoked(&after).await.unwrap(),
        "a token issued after the cutoff"
    );
    assert!(!there.is_revoked(&after).await.unwrap());
    assert_eq!(here.mirror_state(), Some((true, 1)));
    stop.cancel();
}

#[tokio::test]
async fn a_revocation_the_mirror_missed_is_read_when_its_subscription_starts_over() {
    // Alone: it kills the subscriptions that appear while it starts, which would be
    // other tests' mirrors too.
    let env = TestEnv::alone().await;
    let stop = CancellationToken::new();
    let before = subscribers(&env).await;
    let here = process(&env, &env.settings.redis, &stop).await;
    live_after(&here, 0).await;
    let ours: Vec<String> = subscribers(&env)
        .await
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert!(
        !ours.is_empty(),
        "the mirror's subscription is on the server"
    );

    let ana = claims(Uuid::new_v4());
    revoke_silently(&env, &ana).await;
    assert!(
        !here.is_revoked(&ana).await.unwrap(),
        "the mirror answers from what it heard (this is the message it lost)"
    );
    // The subscription drops: the mirror starts over and reads every revocation.
    for id in &ours {
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async::<i64>(&mut redis(&env).await)
            .await
            .unwrap();
    }
    live_after(&here, 1).await;
    assert!(here.is_revoked(&ana).await.unwrap(), "read in the resync");
    stop.cancel();
}

#[tokio::test]
async fn a_mirror_that_cannot_subscribe_leaves_every_check_to_redis() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    // Nothing listens on port 1: the subscription never starts.
    let unreachable = RedisSettings {
        url: SecretString::from("redis://127.0.0.1:1".to_owned()),
        key_prefix: env.settings.redis.key_prefix.clone(),
    };
    let here = process(&env, &unreachable, &stop).await;
    let ana = claims(Uuid::new_v4());
    assert!(!here.is_revoked(&ana).await.unwrap());
    revoke_silently(&env, &ana).await;
    assert!(here.is_revoked(&ana).await.unwrap(), "asked of Redis");
    let ben = claims(Uuid::new_v4());
    here.revoke_user(ben.sub, 900).await.unwrap();
    assert!(here.is_revoked(&ben).await.unwrap());
    assert_eq!(here.mirror_state(), Some((false, 0)), "never live");
    stop.cancel();
}
