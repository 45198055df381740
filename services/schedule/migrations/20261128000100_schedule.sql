-- The schedule service (scheduledb): trainers' bookable hours, rooms, session types, the
-- sessions on the calendar and the bookings on them. Double booking is impossible by
-- construction: exclusion constraints over time ranges keep a trainer, a room and a
-- client from holding two overlapping sessions, and a check keeps a class's places
-- taken within its capacity, whatever the interleaving of requests.
create extension if not exists btree_gist;

-- One row per trainer who has set hours. Every booking transaction for a trainer locks
-- this row first (the per-day and per-week limits are exact), and bumps `generation`,
-- which is part of the slot cache's key: a cached answer cannot outlive a commit.
create table trainer_schedules (
    trainer_id uuid primary key,
    time_zone text not null,
    buffer_before_min integer not null default 0 check (buffer_before_min between 0 and 240),
    buffer_after_min integer not null default 0 check (buffer_after_min between 0 and 240),
    min_notice_min integer not null default 0 check (min_notice_min between 0 and 43200),
    horizon_days integer not null default 60 check (horizon_days between 1 and 730),
    max_per_day integer check (max_per_day >= 1),
    max_per_week integer check (max_per_week >= 1),
    slot_step_min integer not null default 30 check (slot_step_min between 5 and 240),
    generation bigint not null default 0,
    revision integer not null default 1,
    updated_at timestamptz not null default now()
);

-- Weekly hours in the trainer's time zone (ISO weekday: 1 = Monday).
create table availability_rules (
    trainer_id uuid not null references trainer_schedules on delete cascade,
    weekday smallint not null check (weekday between 1 and 7),
    starts time not null,
    ends time not null,
    check (starts < ends)
);
create index availability_rules_trainer on availability_rules (trainer_id);

-- Dates that differ: a day (or hours) off, or extra hours.
create table availability_exceptions (
    trainer_id uuid not null references trainer_schedules on delete cascade,
    date date not null,
    kind text not null check (kind in ('off', 'extra')),
    starts time,
    ends time,
    check ((starts is null) = (ends is null) and (starts is null or starts < ends)),
    check (kind = 'off' or starts is not null)
);
create index availability_exceptions_trainer on availability_exceptions (trainer_id, date);

-- A gym's rooms, open on their own weekly hours in the gym's time zone.
create table rooms (
    id uuid primary key,
    gym_id uuid not null,
    name text not null,
    time_zone text not null,
    generation bigint not null default 0,
    created_at timestamptz not null default now(),
    unique (gym_id, name)
);

create table room_hours (
    room_id uuid not null references rooms on delete cascade,
    weekday smallint not null check (weekday between 1 and 7),
    starts time not null,
    ends time not null,
    check (starts < ends)
);
create index room_hours_room on room_hours (room_id);

create table session_types (
    id uuid primary key,
    owner_kind text not null check (owner_kind in ('trainer', 'gym')),
    owner_id uuid not null,
    name text not null,
    kind text not null check (kind in ('one_on_one', 'group')),
    duration_min integer not null check (duration_min between 5 and 480),
    capacity integer not null check (capacity between 1 and 500 and (kind = 'group' or capacity = 1)),
    room_id uuid references rooms,
    credits integer not null default 0 check (credits between 0 and 100),
    cancel_window_hours integer not null default 24 check (cancel_window_hours between 0 and 168),
    created_at timestamptz not null default now()
);
create index session_types_owner on session_types (owner_id);

-- A session on the calendar: a 1:1 (capacity 1) or one occurrence of a class.
-- `blocked` is `period` widened by the trainer's buffers.
create table sessions (
    id uuid primary key,
    session_type_id uuid not null references session_types,
    trainer_id uuid not null,
    room_id uuid references rooms,
    kind text not null check (kind in ('one_on_one', 'group')),
    period tstzrange not null check (not isempty(period) and lower_inc(period) and not upper_inc(period)),
    blocked tstzrange not null check (blocked @> period),
    capacity integer not null check (capacity >= 1),
    booked integer not null default 0 check (booked between 0 and capacity),
    status text not null default 'scheduled' check (status in ('scheduled', 'cancelled')),
    revision integer not null default 1,
    created_at timestamptz not null default now(),
    constraint sessions_trainer_free exclude using gist (trainer_id with =, blocked with &&)
        where (status = 'scheduled'),
    constraint sessions_room_free exclude using gist (room_id with =, period with &&)
        where (status = 'scheduled' and room_id is not null)
);
create index sessions_trainer_period on sessions using gist (trainer_id, period);

create sequence waitlist_arrivals;

-- A client's place on a session. A waitlisted place is held too: a client is never in
-- two overlapping sessions, or in line for them.
create table bookings (
    id uuid primary key,
    session_id uuid not null references sessions,
    client_id uuid not null,
    trainer_id uuid not null,
    period tstzrange not null,
    status text not null check (status in
        ('booked', 'waitlisted', 'cancelled', 'late_cancelled', 'checked_in', 'attended', 'no_show')),
    -- arrival order in the waitlist (set while waitlisted)
    waitlisted_seq bigint,
    revision integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((status = 'waitlisted') = (waitlisted_seq is not null)),
    constraint bookings_client_free exclude using gist (client_id with =, period with &&)
        where (status in ('booked', 'waitlisted', 'checked_in', 'attended', 'no_show'))
);
create index bookings_client on bookings (client_id, period);
create index bookings_session on bookings (session_id, status);
create index bookings_waitlist on bookings (session_id, waitlisted_seq) where status = 'waitlisted';
