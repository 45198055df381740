-- In-app notifications: one row per notification, delivered exactly once (the primary
-- key is the source's id, and the inbox writer stores its Kafka offsets in the same
-- transaction as the rows).
create table inbox (
    notification_id uuid primary key,
    user_id uuid not null,
    kind text not null check (kind in ('workout_comment')),
    title text not null,
    body text not null,
    -- What it is about, e.g. the workout commented on.
    subject_id uuid not null,
    sender_id uuid,
    created_at timestamptz not null,
    delivered_at timestamptz not null default now(),
    read_at timestamptz
);
create index inbox_user on inbox (user_id, created_at desc);
