-- Body metrics, goals and health records, written by the progress service (its outbox
-- carries measurements and goals to fitsync.progress).

-- What a client can be measured by: built-in metrics (no owner) and custom ones.
create table metric_types (
    key text primary key,
    name text not null,
    unit text not null,
    owner_id uuid,
    created_at timestamptz not null default now()
);
insert into metric_types (key, name, unit) values
    ('weight', 'Body weight', 'kg'),
    ('body_fat', 'Body fat', 'percent'),
    ('waist', 'Waist', 'cm'),
    ('hips', 'Hips', 'cm'),
    ('chest', 'Chest', 'cm'),
    ('arm', 'Upper arm', 'cm'),
    ('thigh', 'Thigh', 'cm'),
    ('neck', 'Neck', 'cm'),
    ('resting_heart_rate', 'Resting heart rate', 'bpm');

create table measurements (
    id uuid primary key,
    client_id uuid not null,
    metric text not null references metric_types (key),
    value double precision not null,
    measured_at timestamptz not null,
    local_date date not null,
    recorded_by uuid not null,
    created_at timestamptz not null default now()
);
create index measurements_client on measurements (client_id, metric, measured_at);

create table goals (
    id uuid primary key,
    client_id uuid not null,
    kind text not null check (kind in ('weight', 'lift')),
    exercise text,
    target_kg double precision not null,
    by_date date not null,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    check ((kind = 'lift') = (exercise is not null))
);
create index goals_client on goals (client_id);

-- Injuries and conditions: read only by the client, their current trainer and admins;
-- every read by someone else is audited (fitsync.audit.health_data_read.v1).
create table health_records (
    id uuid primary key,
    client_id uuid not null,
    kind text not null check (kind in ('injury', 'condition', 'other')),
    title text not null,
    details text,
    started_on date,
    ended_on date,
    created_by uuid not null,
    created_at timestamptz not null default now()
);
create index health_records_client on health_records (client_id);

-- Written only by the analytics job: every measurement it has applied (a deleted one
-- stays as a tombstone), each client's daily mean per metric, and the weight trend.
create table measurement_facts (
    measurement_id uuid primary key,
    client_id uuid not null,
    metric text not null,
    value double precision not null,
    local_date date not null,
    measured_at timestamptz not null,
    revision integer not null,
    deleted boolean not null default false,
    event_id uuid not null
);
create index measurement_facts_day on measurement_facts (client_id, metric, local_date) where not deleted;

create table daily_metrics (
    client_id uuid not null,
    metric text not null,
    day date not null,
    value double precision not null,
    measurements integer not null,
    primary key (client_id, metric, day)
);

-- The Hacker's Diet trend: each weighed day's weight (the day's mean) smoothed by 10 %.
create table weight_trend (
    client_id uuid not null,
    day date not null,
    weight_kg double precision not null,
    trend_kg double precision not null,
    primary key (client_id, day)
);
