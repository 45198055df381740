//! Calendar feeds (RFC 5545): a client's bookings, or a trainer's sessions, as an
//! iCalendar document a calendar app subscribes to (`/api/calendar/{token}`). The token
//! is 256 random bits, kept only as its SHA-256, revocable. Events carry their
//! trainer's time zone (with a `VTIMEZONE` describing every offset change in the feed's
//! range), a `SEQUENCE` that grows with every change, and `STATUS:CANCELLED` once
//! cancelled, so subscribed calendars follow reschedules and cancellations.

use std::collections::BTreeMap;

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use fitsync_platform::{auth::Role, ApiError, ApiPath, AuthUser};
use ring::{digest, rand::SecureRandom};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ScheduleState;

/// A calendar feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Feed {
    id: Uuid,
    /// `client` (their bookings) or `trainer` (their sessions).
    owner_role: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A new feed: its address, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewFeed {
    id: Uuid,
    owner_role: String,
    /// The subscription address (path; prefix it with the API's origin). It is the
    /// only copy: FitSync keeps only a hash of the token in it.
    url: String,
}

fn sha256(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// `POST /api/calendar/feeds`
#[utoipa::path(
    post, path = "/api/calendar/feeds", tag = "schedule",
    summary = "A new calendar feed of the caller's bookings (clients) or sessions (trainers)",
    responses((status = 201, description = "Created; the address is shown only now", body = NewFeed)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create(
    State(state): State<ScheduleState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<NewFeed>), ApiError> {
    let role = match user.role() {
        Role::Client => "client",
        Role::Trainer => "trainer",
        _ => {
            return Err(ApiError::ForbiddenBecause(
                "clients and trainers have calendars",
            ))
        }
    };
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("no randomness")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into calendar_feeds (id, owner_id, owner_role, token_sha256) values ($1, $2, $3, $4)",
        id,
        user.id(),
        role,
        sha256(&token)
    )
    .execute(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewFeed {
            id,
            owner_role: role.into(),
            url: format!("/api/calendar/{token}"),
        }),
    ))
}

/// `GET /api/calendar/feeds`
#[utoipa::path(
    get, path = "/api/calendar/feeds", tag = "schedule",
    summary = "The caller's calendar feeds (without their addresses)",
    responses((status = 200, description = "Feeds", body = Vec<Feed>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<ScheduleState>,
    user: AuthUser,
) -> Result<Json<Vec<Feed>>, ApiError> {
    Ok(Json(
        sqlx::query_as!(
            Feed,
            "select id, owner_role, created_at, revoked_at from calendar_feeds
             where owner_id = $1 order by created_at desc",
            user.id()
        )
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// `POST /api/calendar/feeds/{id}/revoke`
#[utoipa::path(
    post, path = "/api/calendar/feeds/{id}/revoke", tag = "schedule",
    summary = "Revoke a calendar feed: its address answers 404 from now on (its owner)",
    params(("id" = Uuid, Path, description = "The feed")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such feed of yours", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn revoke(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let done = sqlx::query!(
        "update calendar_feeds set revoked_at = coalesce(revoked_at, now())
         where id = $1 and owner_id = $2",
        id,
        user.id()
    )
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One event of a feed.
struct Item {
    uid: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    tz: String,
    summary: String,
    status: &'static str,
    sequence: i32,
}

/// `GET /api/calendar/{token}`
#[utoipa::path(
    get, path = "/api/calendar/{token}", tag = "schedule",
    summary = "A calendar feed (RFC 5545), from 30 days ago to a year ahead; the token in the address is the authorization",
    params(("token" = String, Path, description = "The feed's token")),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
        (status = 404, description = "No such feed, or revoked", body = fitsync_platform::Problem)
    )
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn feed(
    State(state): State<ScheduleState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let f = sqlx::query!(
        "select owner_id, owner_role from calendar_feeds where token_sha256 = $1 and revoked_at is null",
        sha256(&token)
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    let (from, to) = (now - Duration::days(30), now + Duration::days(365));
    let items: Vec<Item> = if f.owner_role == "client" {
        sqlx::query!(
            r#"select b.id, lower(s.period) as "starts_at!", upper(s.period) as "ends_at!",
                      coalesce(ts.time_zone, 'UTC') as "tz!", t.name, b.status, b.revision
               from bookings b join sessions s on s.id = b.session_id
                    join session_types t on t.id = s.session_type_id
                    left join trainer_schedules ts on ts.trainer_id = s.trainer_id
               where b.client_id = $1 and lower(s.period) >= $2 and lower(s.period) < $3
               order by lower(s.period), b.id"#,
            f.owner_id,
            from,
            to
        )
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(|r| Item {
            uid: r.id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            tz: r.tz,
            summary: r.name,
            status: match r.status.as_str() {
                "waitlisted" => "TENTATIVE",
                "cancelled" | "late_cancelled" => "CANCELLED",
                _ => "CONFIRMED",
            },
            sequence: r.revision,
        })
        .collect()
    } else {
        sqlx::query!(
            r#"select s.id, lower(s.period) as "starts_at!", upper(s.period) as "ends_at!",
                      coalesce(ts.time_zone, 'UTC') as "tz!", t.name, s.status, s.revision,
                      s.booked, s.capacity, s.kind
               from sessions s join session_types t on t.id = s.session_type_id
                    left join trainer_schedules ts on ts.trainer_id = s.trainer_id
               where s.trainer_id = $1 and lower(s.period) >= $2 and lower(s.period) < $3
               order by lower(s.period), s.id"#,
            f.owner_id,
            from,
            to
        )
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(|r| Item {
            uid: r.id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            tz: r.tz,
            summary: if r.kind == "group" {
                format!("{} ({}/{} booked)", r.name, r.booked, r.capacity)
            } else {
                r.name
            },
            status: if r.status == "cancelled" {
                "CANCELLED"
            } else {
                "CONFIRMED"
            },
            sequence: r.revision,
        })
        .collect()
    };
    let body = render(&items, (from, to), now);
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (never inside a character), ending CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    if s % 60 == 0 {
        format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// The instants a zone's offset changes within `range`, to the minute.
fn transitions(tz: Tz, (from, to): (DateTime<Utc>, DateTime<Utc>)) -> Vec<DateTime<Utc>> {
    let at = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let next = t + Duration::hours(1);
        if at(t) != at(next) {
            // The first minute with the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::minutes(1) {
                let mid = lo + (hi - lo) / 2;
                if at(mid) == at(t) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        t = next;
    }
    out
}

/// A `VTIMEZONE` for `tz` over `range`: the offset at its start, and every change in it.
fn vtimezone(out: &mut String, tz: Tz, range: (DateTime<Utc>, DateTime<Utc>)) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", tz.name()));
    let observance = |out: &mut String, at: DateTime<Utc>, before: i32| {
        let o = tz.offset_from_utc_datetime(&at.naive_utc());
        let kind = if o.dst_offset().is_zero() {
            "STANDARD"
        } else {
            "DAYLIGHT"
        };
        let to = o.fix().local_minus_utc();
        line(out, &format!("BEGIN:{kind}"));
        // The onset in local time as it was just before (RFC 5545 §3.6.5).
        line(
            out,
            &format!(
                "DTSTART:{}",
                local(at.naive_utc() + Duration::seconds(before.into()))
            ),
        );
        line(out, &format!("TZOFFSETFROM:{}", offset(before)));
        line(out, &format!("TZOFFSETTO:{}", offset(to)));
        if let Some(name) = o.abbreviation() {
            line(out, &format!("TZNAME:{}", text(name)));
        }
        line(out, &format!("END:{kind}"));
    };
    let start = tz
        .offset_from_utc_datetime(&range.0.naive_utc())
        .fix()
        .local_minus_utc();
    observance(out, range.0, start);
    for change in transitions(tz, range) {
        let before = tz
            .offset_from_utc_datetime(&(change - Duration::minutes(1)).naive_utc())
            .fix()
            .local_minus_utc();
        observance(out, change, before);
    }
    line(out, "END:VTIMEZONE");
}

/// The iCalendar document of a feed's events.
fn render(items: &[Item], range: (DateTime<Utc>, DateTime<Utc>), now: DateTime<Utc>) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//FitSync//Schedule//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:FitSync");
    let zones: BTreeMap<&str, Tz> = items
        .iter()
        .filter_map(|i| Some((i.tz.as_str(), i.tz.parse::<Tz>().ok()?)))
        .collect();
    for tz in zones.values() {
        vtimezone(&mut out, *tz, range);
    }
    for item in items {
        let tz: Tz = item.tz.parse().unwrap_or(Tz::UTC);
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}@fitsync.dev", item.uid));
        line(&mut out, &format!("DTSTAMP:{}", utc(now)));
        line(&mut out, &format!("SEQUENCE:{}", item.sequence));
        for (name, at) in [("DTSTART", item.starts_at), ("DTEND", item.ends_at)] {
            line(
                &mut out,
                &format!(
                    "{name};TZID={}:{}",
                    tz.name(),
                    local(at.with_timezone(&tz).naive_local())
                ),
            );
        }
        line(&mut out, &format!("SUMMARY:{}", text(&item.summary)));
        line(&mut out, &format!("STATUS:{}", item.status));
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fold_at_75_octets_and_text_is_escaped() {
        let mut out = String::new();
        line(
            &mut out,
            &format!("SUMMARY:{}", text(&"é, a; b\\ c".repeat(10))),
        );
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{l:?}");
        }
        let unfolded = out.replace("\r\n ", "");
        assert!(unfolded.starts_with("SUMMARY:é\\, a\\; b\\\\ c"));
    }

    #[test]
    fn berlin_changes_its_offset_twice_a_year_at_the_hour() {
        let tz = chrono_tz::Europe::Berlin;
        let from = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
        // 01:00 UTC on the last Sundays of March and October.
        assert_eq!(
            transitions(tz, (from, to)),
            [
                Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2027, 10, 31, 1, 0, 0).unwrap()
            ]
        );
        let mut out = String::new();
        vtimezone(&mut out, tz, (from, to));
        assert!(out.contains("BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"), "{out}");
        assert!(out.contains("BEGIN:STANDARD\r\nDTSTART:20271031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"), "{out}");
    }
}
