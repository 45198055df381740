-- One row per notification the service was asked to deliver: its outcome, and the
-- guarantee that a replayed request is not sent twice (primary key).
create table deliveries (
    notification_id uuid primary key,
    user_id uuid not null,
    channel text not null check (channel in ('email')),
    address text not null,
    template text not null,
    status text not null check (status in ('sent', 'failed')),
    attempts integer not null,
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
);
create index deliveries_user on deliveries (user_id, created_at desc);
