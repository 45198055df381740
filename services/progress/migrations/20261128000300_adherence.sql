-- Adherence, written only by the analytics job: the plans, workouts and bookings it has
-- applied (newest revision of each), and per client and day what was planned and done.

-- Each program assignment's revision and the workouts it still plans, by local date.
create table plan_facts (
    assignment_id uuid primary key,
    client_id uuid not null,
    status text not null,
    revision integer not null
);
create table planned_facts (
    planned_workout_id uuid primary key,
    assignment_id uuid not null,
    client_id uuid not null,
    day date not null
);
create index planned_facts_assignment on planned_facts (assignment_id);
create index planned_facts_client_day on planned_facts (client_id, day);

-- Workout sessions: a finished one carries out its planned workout, if it names one.
create table workout_facts (
    workout_id uuid primary key,
    client_id uuid not null,
    planned_workout_id uuid,
    status text not null,
    revision integer not null
);
create index workout_facts_planned on workout_facts (planned_workout_id) where status = 'finished';

-- Bookings as they now stand; `day` is the UTC date of the session's start.
create table booking_facts (
    booking_id uuid primary key,
    client_id uuid not null,
    trainer_id uuid not null,
    session_id uuid not null,
    starts_at timestamptz not null,
    day date not null,
    status text not null,
    revision integer not null
);
create index booking_facts_client_day on booking_facts (client_id, day);
create index booking_facts_trainer on booking_facts (trainer_id, starts_at);

-- Per client and day: planned workouts and those done; sessions resolved (attended,
-- no-show, cancelled late), attended, no-shows, late cancellations.
create table daily_adherence (
    client_id uuid not null,
    day date not null,
    planned integer not null,
    completed integer not null,
    sessions integer not null,
    attended integer not null,
    no_shows integer not null,
    late_cancels integer not null,
    primary key (client_id, day)
);
