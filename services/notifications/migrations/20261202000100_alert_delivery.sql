-- Alert delivery beyond the in-app inbox (issue 10): where each user's alerts may go,
-- what they want on which channel, when not to be disturbed, and one row per
-- (alert, channel) to deliver, retried with backoff until sent or dead.

-- A user's verified address (fitsync.notification.address_verified.v1).
create table recipients (
    user_id uuid primary key,
    email text not null,
    verified_at timestamptz not null
);

-- Per user, category and channel: on or off. Absent: the channel's default
-- (email on; the in-app inbox is always on).
create table channel_preferences (
    user_id uuid not null,
    category text not null check (category in ('progress', 'attendance', 'bookings', 'feedback')),
    channel text not null check (channel in ('email')),
    enabled boolean not null,
    primary key (user_id, category, channel)
);

-- Quiet hours in the user's own time zone: a delivery falling inside them waits for
-- their end (deferred, never dropped). start = end means none.
create table quiet_hours (
    user_id uuid primary key,
    time_zone text not null,
    starts time not null,
    ends time not null
);

create table alert_deliveries (
    id uuid primary key,
    notification_id uuid not null,
    user_id uuid not null,
    channel text not null check (channel in ('email')),
    -- pending: waiting for due_at; sending: claimed (claimed_at) and being handed over;
    -- sent; dead: out of attempts or refused for good (listed, replayable).
    status text not null check (status in ('pending', 'sending', 'sent', 'dead')),
    attempts integer not null default 0,
    due_at timestamptz not null,
    claimed_at timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    unique (notification_id, channel)
);
create index alert_deliveries_due on alert_deliveries (channel, due_at) where status in ('pending', 'sending');
create index alert_deliveries_user on alert_deliveries (user_id, created_at desc);
