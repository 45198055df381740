//! The live in-app stream: `GET /api/notifications/stream`, Server-Sent Events.
//!
//! Each event is one of the caller's inbox rows, its SSE `id` the row's sequence number.
//! A client that reconnects with `Last-Event-ID: N` (browsers send it by themselves)
//! gets every row after N, in order, and then the live ones: rows are numbered in commit
//! order per recipient (see the alerts migration), so reading "after N" misses nothing
//! and repeats nothing. The alerts job's commit NOTIFYs `fitsync_inbox` with the
//! recipient; one listener per process wakes that recipient's streams only (a stream
//! never sees another user's wake-ups, so the work per alert does not grow with the
//! number of open streams), and each stream then reads its own rows after the last it
//! sent. When the listener's connection is lost it reconnects and wakes every stream, as
//! a wake-up may have been missed in between; one missed anyway costs at most
//! `delivery.stream_resync_ms` (5 s by default) of delay, never a row. A stream ends when its access
//! token expires or is revoked (checked at every wake-up, at least every resync), or the
//! process shuts down; the client reconnects with its last id.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use fitsync_platform::{ApiError, ApiQuery, AuthUser, Authenticator, Claims};
use futures::Stream;
use serde::Deserialize;
use sqlx::{postgres::PgListener, PgPool};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{handlers::InboxItem, NotificationsState};

/// The channel the alerts job NOTIFYs (`fitsync_stream_jobs::alerts::CHANNEL`).
pub const CHANNEL: &str = "fitsync_inbox";

/// Rows one read of a stream takes.
const PAGE: i64 = 100;

/// Wakes the open streams of a process when their user has new rows, and the delivery
/// workers when anyone has.
pub struct Hub {
    wake: Wakes,
    /// How often an idle stream looks for rows anyway.
    resync: Duration,
    shutdown: CancellationToken,
}

/// Where the listener's wake-ups go.
#[derive(Clone)]
struct Wakes {
    /// Every wake-up, with the user who has new rows (the nil id: anyone may).
    any: broadcast::Sender<Uuid>,
    /// Per user with an open stream: a counter bumped at each of their wake-ups. A stream
    /// holds a receiver, which sees a bump made while it was busy when it next waits, so
    /// no wake-up is lost. Entries without receivers (the user's streams all closed) go
    /// at the user's next wake-up, or in a sweep when a new stream finds the map twice
    /// the size the last sweep left (at least 64).
    users: Arc<Mutex<Streams>>,
}

#[derive(Default)]
struct Streams {
    by_user: HashMap<Uuid, watch::Sender<u64>>,
    sweep_at: usize,
}

impl Hub {
    /// Starts the process's listener; it stops with `shutdown`. An idle stream reads
    /// every `resync`.
    pub fn start(pool: PgPool, resync: Duration, shutdown: CancellationToken) -> Arc<Self> {
        let (any, _) = broadcast::channel(1024);
        let wake = Wakes {
            any,
            users: Arc::default(),
        };
        let hub = Arc::new(Self {
            wake: wake.clone(),
            resync,
            shutdown: shutdown.clone(),
        });
        tokio::spawn(listen(pool, wake, shutdown));
        hub
    }

    /// Wake-ups with the user who has new rows (the nil id: anyone may).
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.wake.any.subscribe()
    }
}

impl Wakes {
    /// Passes a wake-up to the delivery workers and to `user`'s streams (the nil id:
    /// every stream).
    fn send(&self, user: Uuid) {
        let _ = self.any.send(user);
        let users = &mut self
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_user;
        if user.is_nil() {
            users.retain(|_, counter| counter.receiver_count() > 0);
            for counter in users.values() {
                counter.send_modify(|n| *n += 1);
            }
        } else if let Some(counter) = users.get(&user) {
            if counter.receiver_count() == 0 {
                users.remove(&user);
            } else {
                counter.send_modify(|n| *n += 1);
            }
        }
    }

    /// `user`'s wake-ups (and everyone's): changed after each from now on.
    fn watch(&self, user: Uuid) -> watch::Receiver<u64> {
        let mut streams = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if streams.by_user.len() >= streams.sweep_at {
            streams
                .by_user
                .retain(|_, counter| counter.receiver_count() > 0);
            streams.sweep_at = (2 * streams.by_user.len()).max(64);
        }
        streams
            .by_user
            .entry(user)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }
}

/// Relays NOTIFYs to the streams; reconnects with backoff. After a reconnect every
/// stream re-reads (the nil id), as a wake-up may have been missed in between: whether
/// this loop connects again or sqlx does (`try_recv` reconnects at once when the server
/// ends the connection, and says so with `None`; `recv` would say nothing).
async fn listen(pool: PgPool, wake: Wakes, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            () = shutdown.cancelled() => return,
            l = connected => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "inbox listener cannot connect; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        };
        backoff = Duration::from_millis(100);
        wake.send(Uuid::nil());
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                n = listener.try_recv() => match n {
                    Ok(Some(n)) => {
                        if let Ok(user) = Uuid::parse_str(n.payload()) {
                            wake.send(user);
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("inbox listener lost its connection and is back");
                        wake.send(Uuid::nil());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "inbox listener lost its connection");
                        break;
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this sequence number (as `Last-Event-ID`, which wins when both are
    /// given). Neither: only what arrives from now on.
    #[param(minimum = 0)]
    after: Option<i64>,
}

struct Cursor {
    pool: PgPool,
    /// Checked again before each read: a logout ends an open stream.
    auth: Arc<Authenticator>,
    claims: Claims,
    user: Uuid,
    last: i64,
    pending: VecDeque<InboxItem>,
    /// Rows may be waiting: false once a read returned fewer than a page, until the next
    /// wake-up (a row committed after that read wakes the stream).
    unread: bool,
    wake: watch::Receiver<u64>,
    resync: Duration,
    shutdown: CancellationToken,
    expires: tokio::time::Instant,
}

/// `GET /api/notifications/stream`: the caller's notifications as they arrive.
#[utoipa::path(
    get, path = "/api/notifications/stream", tag = "notifications",
    summary = "The caller's notifications as Server-Sent Events (id = seq; resume with Last-Event-ID)",
    params(StreamQuery, ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Resume after this sequence number")),
    responses(
        (status = 200, description = "An event stream: `event: notification`, `data:` an inbox item", content_type = "text/event-stream", body = String),
        (status = 400, description = "A bad Last-Event-ID", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn stream(
    State(state): State<NotificationsState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if q.after.is_some_and(|n| n < 0) {
        return Err(ApiError::BadRequest("after must be 0 or more".into()));
    }
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::BadRequest("Last-Event-ID must be a sequence number".into())
                })?,
        ),
        None => q.after,
    };
    // Subscribed before the first read: a row committed in between still wakes it.
    let wake = state.hub.wake.watch(user.id());
    let last = match resume {
        Some(n) => n,
        None => sqlx::query_scalar!(
            "select last_seq from inbox_cursors where user_id = $1",
            user.id()
        )
        .fetch_optional(&state.pool)
        .await?
        .unwrap_or(0),
    };
    let left = (user.claims().exp - chrono::Utc::now().timestamp()).max(0);
    let cursor = Cursor {
        pool: state.pool.clone(),
        auth: state.auth.clone(),
        claims: user.claims().clone(),
        user: user.id(),
        last,
        pending: VecDeque::new(),
        unread: true,
        wake,
        resync: state.hub.resync,
        shutdown: state.hub.shutdown.clone(),
        expires: tokio::time::Instant::now() + Duration::from_secs(left.unsigned_abs()),
    };
    let events = futures::stream::unfold(cursor, next);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The stream's next event: a row already read, else the rows after the last sent,
/// else whatever a wake-up (or the resync) brings; nothing once the token expires or the
/// process stops.
async fn next(mut c: Cursor) -> Option<(Result<Event, Infallible>, Cursor)> {
    loop {
        if let Some(item) = c.pending.pop_front() {
            c.last = item.seq;
            let event = Event::default()
                .id(item.seq.to_string())
                .event("notification")
                .json_data(&item)
                .unwrap_or_else(|_| Event::default().comment("unserializable"));
            return Some((Ok(event), c));
        }
        // Revoked since it opened (logout, logout everywhere, a password reset), or the
        // revocation store unreachable: the stream ends (fail closed).
        if c.auth
            .revocations()
            .is_revoked(&c.claims)
            .await
            .unwrap_or(true)
        {
            return None;
        }
        if c.unread {
            match after(&c.pool, c.user, c.last).await {
                Ok(rows) => {
                    c.unread = rows.len() as i64 == PAGE;
                    if !rows.is_empty() {
                        c.pending.extend(rows);
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the inbox for a stream failed; ending it");
                    return None;
                }
            }
        }
        tokio::select! {
            () = c.shutdown.cancelled() => return None,
            () = tokio::time::sleep_until(c.expires) => return None,
            () = tokio::time::sleep(c.resync) => {}
            woke = c.wake.changed() => if woke.is_err() { return None },
        }
        c.unread = true;
    }
}

async fn after(pool: &PgPool, user: Uuid, last: i64) -> Result<Vec<InboxItem>, sqlx::Error> {
    sqlx::query_as!(
        InboxItem,
        "select notification_id, seq, kind, title, body, subject_id, sender_id, data, created_at,
                delivered_at, read_at
         from inbox where user_id = $1 and seq > $2 order by seq limit $3",
        user,
        last,
        PAGE
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wakes() -> Wakes {
        Wakes {
            any: broadcast::channel(16).0,
            users: Arc::default(),
        }
    }

    fn woken(rx: &mut watch::Receiver<u64>) -> bool {
        rx.has_changed().expect("the hub holds the sender") && {
            rx.mark_unchanged();
            true
        }
    }

    #[test]
    fn a_stream_sees_its_own_users_wake_ups_and_everyones_not_another_users() {
        let w = wakes();
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut any = w.any.subscribe();
        let (mut ann_tab, mut ann_other_tab, mut bob_tab) =
            (w.watch(ann), w.watch(ann), w.watch(bob));
        w.send(ann);
        assert!(woken(&mut ann_tab) && woken(&mut ann_other_tab));
        assert!(!woken(&mut bob_tab));
        // Made while the stream was busy (not waiting): seen when it next looks, once.
        w.send(bob);
        w.send(bob);
        assert!(woken(&mut bob_tab));
        assert!(!woken(&mut bob_tab));
        // The nil id (the listener reconnected): everyone.
        w.send(Uuid::nil());
        assert!(woken(&mut ann_tab) && woken(&mut ann_other_tab) && woken(&mut bob_tab));
        // The delivery workers see every wake-up, in order.
        let seen: Vec<Uuid> = std::iter::from_fn(|| any.try_recv().ok()).collect();
        assert_eq!(seen, vec![ann, bob, bob, Uuid::nil()]);
    }

    #[test]
    fn a_user_whose_streams_all_closed_is_forgotten() {
        let w = wakes();
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let ann_tab = w.watch(ann);
        let bob_tab = w.watch(bob);
        drop(ann_tab);
        w.send(ann);
        let known = |w: &Wakes| {
            let users = w.users.lock().unwrap();
            let mut ids: Vec<Uuid> = users.by_user.keys().copied().collect();
            ids.sort();
            ids
        };
        assert_eq!(known(&w), vec![bob]);
        drop(bob_tab);
        w.send(Uuid::nil());
        assert!(known(&w).is_empty());
    }

    #[test]
    fn closed_streams_are_swept_once_the_map_reaches_its_threshold() {
        let w = wakes();
        // 64 users open a stream and close it; nothing wakes them.
        for n in 0..64 {
            drop(w.watch(Uuid::from_u128(n + 1)));
        }
        let kept = w.watch(Uuid::from_u128(1000));
        let users = w.users.lock().unwrap();
        assert_eq!(users.by_user.len(), 1, "the 64 closed ones swept");
        assert!(users.by_user.contains_key(&Uuid::from_u128(1000)));
        drop(users);
        drop(kept);
    }
}
