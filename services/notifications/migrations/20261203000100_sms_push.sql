-- Alert SMS and web push (issue 10): verified numbers, browser subscriptions, and
-- deliveries on those channels (one per browser for push), with the SMS gateway's id and
-- receipt. Session reminders join the inbox's kinds and their own preference category.

create table phone_numbers (
    user_id uuid primary key,
    -- E.164
    number text not null,
    -- Set once the texted code came back; alerts are texted only then.
    verified_at timestamptz,
    -- SHA-256 of "<user>:<code>" while a code is out.
    code_hash bytea,
    code_expires_at timestamptz,
    code_attempts integer not null default 0,
    code_sent_at timestamptz not null
);
create index phone_numbers_number on phone_numbers (number);

-- One per browser (its push service endpoint); a browser subscribing again, or another
-- user signing in on it, takes the row over.
create table push_subscriptions (
    id uuid primary key,
    user_id uuid not null,
    endpoint text not null unique,
    -- The browser's P-256 key (uncompressed) and auth secret (RFC 8291).
    p256dh bytea not null,
    auth bytea not null,
    created_at timestamptz not null default now()
);
create index push_subscriptions_user on push_subscriptions (user_id);

alter table channel_preferences drop constraint channel_preferences_channel_check;
alter table channel_preferences add constraint channel_preferences_channel_check
    check (channel in ('email', 'sms', 'push'));
alter table channel_preferences drop constraint channel_preferences_category_check;
alter table channel_preferences add constraint channel_preferences_category_check
    check (category in ('progress', 'attendance', 'bookings', 'feedback', 'reminders'));

alter table alert_deliveries drop constraint alert_deliveries_channel_check;
alter table alert_deliveries add constraint alert_deliveries_channel_check
    check (channel in ('email', 'sms', 'push'));
-- Which of the user's browsers (push: the subscription's id); '' on the other channels.
alter table alert_deliveries add column target text not null default '';
alter table alert_deliveries drop constraint alert_deliveries_notification_id_channel_key;
alter table alert_deliveries add constraint alert_deliveries_once
    unique (notification_id, channel, target);
-- The SMS gateway's id for the text, and its receipt.
alter table alert_deliveries add column provider_ref text;
alter table alert_deliveries add column receipt text check (receipt in ('delivered', 'undelivered'));
alter table alert_deliveries add column receipt_at timestamptz;

alter table inbox drop constraint inbox_kind_check;
alter table inbox add constraint inbox_kind_check check (kind in (
    'workout_comment', 'personal_record', 'workload_spike', 'no_show',
    'booking_confirmed', 'booking_cancelled', 'booking_rescheduled', 'waitlist_promoted',
    'session_reminder'));

-- Durable reminders: one per (booking, lead time), due at fire_at while the booking
-- stands. The alerts job keeps them with the booking (moved with it, dropped when it is
-- cancelled or closed: dropped_at, the row kept with its revision so that an older event
-- seen again cannot bring it back) and fires each once (fired_at set in the transaction
-- that stores the alert).
create table reminders (
    booking_id uuid not null,
    lead_minutes integer not null check (lead_minutes > 0),
    client_id uuid not null,
    trainer_id uuid not null,
    session_id uuid not null,
    starts_at timestamptz not null,
    fire_at timestamptz not null,
    -- The booking revision this reflects (older events change nothing).
    revision integer not null,
    fired_at timestamptz,
    dropped_at timestamptz,
    primary key (booking_id, lead_minutes)
);
create index reminders_due on reminders (fire_at) where fired_at is null and dropped_at is null;

-- How a user reads times and weights in their alerts (absent: UTC, kilograms).
create table locale_preferences (
    user_id uuid primary key,
    time_zone text not null,
    units text not null check (units in ('metric', 'imperial'))
);
