-- Alerts (issue 10): the in-app inbox takes every alert the alerts job fires, each with
-- a deduplication key, a per-user sequence number (the SSE event id) and its facts.

alter table inbox drop constraint inbox_kind_check;
alter table inbox add constraint inbox_kind_check check (kind in (
    'workout_comment', 'personal_record', 'workload_spike', 'no_show',
    'booking_confirmed', 'booking_cancelled', 'booking_rescheduled', 'waitlist_promoted'));
-- What the alert is about, for the web app (exercise, kilograms, ratio, session time).
alter table inbox add column data jsonb not null default '{}';
-- Unique per recipient: a replayed or re-published trigger adds nothing.
alter table inbox add column dedup_key text;
update inbox set dedup_key = 'comment:' || notification_id;
alter table inbox alter column dedup_key set not null;
create unique index inbox_dedup on inbox (user_id, dedup_key);
-- Per recipient 1, 2, 3, … in commit order: a row is numbered under the lock of its
-- recipient's cursor, so a number is only visible once every lower one is. A stream
-- that resumes after N (`Last-Event-ID: N`) therefore misses nothing and repeats nothing.
alter table inbox add column seq bigint;
update inbox i set seq = r.n
from (select notification_id,
             row_number() over (partition by user_id order by created_at, notification_id) as n
      from inbox) r
where r.notification_id = i.notification_id;
alter table inbox alter column seq set not null;
create unique index inbox_user_seq on inbox (user_id, seq);
create index inbox_unread on inbox (user_id) where read_at is null;

create table inbox_cursors (
    user_id uuid primary key,
    last_seq bigint not null
);
insert into inbox_cursors (user_id, last_seq) select user_id, max(seq) from inbox group by user_id;

-- When each (recipient, rule, scope) last fired, by the triggering event's time (so a
-- replay from the start decides the same).
create table alert_cooldowns (
    user_id uuid not null,
    rule text not null,
    scope text not null,
    last_at timestamptz not null,
    primary key (user_id, rule, scope)
);

-- A trainer's choices per rule: for one client, or for all of them (client_id is the
-- nil UUID). Absent: the rule's defaults.
create table alert_settings (
    trainer_id uuid not null,
    client_id uuid not null,
    rule text not null check (rule in ('personal_record', 'workload_spike', 'no_show')),
    enabled boolean not null,
    threshold double precision,
    cooldown_minutes integer not null check (cooldown_minutes between 0 and 43200),
    updated_at timestamptz not null default now(),
    primary key (trainer_id, client_id, rule)
);
