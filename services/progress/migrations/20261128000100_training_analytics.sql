-- A client's training by their local day and week (docs/analytics.md), written only by the
-- analytics job. Every table here is a function of the counted facts: sets seen for the
-- first time add to (or merge into) their rows; the job recomputes from the facts the rows
-- of each day, week or (client, exercise) a correction or deletion touched.

-- Each set's day in the client's time zone (the event's local_date; the UTC date for sets
-- counted before it existed), whether it failed, and its workout session.
alter table set_facts add column local_date date;
update set_facts set local_date = (performed_at at time zone 'UTC')::date;
alter table set_facts alter column local_date set not null;
alter table set_facts add column failed boolean not null default false;
alter table set_facts add column workout_id uuid;
create index set_facts_client_day on set_facts (client_id, local_date) where not deleted;
create index set_facts_exercise on set_facts (exercise) where not deleted;

-- Per client and local day: sets, hard sets, reps and volume load.
create table daily_training (
    client_id uuid not null,
    day date not null,
    sets integer not null,
    hard_sets integer not null,
    reps bigint not null,
    volume_kg numeric(14, 2) not null,
    primary key (client_id, day)
);

-- The best e1RM of each exercise per client and local day, and the set that made it.
create table daily_e1rm (
    client_id uuid not null,
    exercise text not null,
    day date not null,
    e1rm_kg double precision not null,
    set_id uuid not null,
    achieved_at timestamptz not null,
    primary key (client_id, exercise, day)
);

-- Volume load per session: a workout's sets on one local day; the sets logged on their
-- own that day form one session with the nil workout id.
create table session_volume (
    client_id uuid not null,
    day date not null,
    workout_id uuid not null,
    volume_kg numeric(14, 2) not null,
    sets integer not null,
    primary key (client_id, day, workout_id)
);
create index session_volume_best on session_volume (client_id, volume_kg desc);

-- Personal records: the heaviest set per client, exercise and reps done.
create table rep_records (
    client_id uuid not null,
    exercise text not null,
    reps integer not null,
    weight_kg double precision not null,
    set_id uuid not null,
    achieved_at timestamptz not null,
    day date not null,
    primary key (client_id, exercise, reps)
);

-- Per client, local ISO week (Monday) and primary muscle: sets, hard sets, volume load.
create table muscle_weekly (
    client_id uuid not null,
    week_start date not null,
    muscle text not null,
    sets integer not null,
    hard_sets integer not null,
    volume_kg numeric(14, 2) not null,
    primary key (client_id, week_start, muscle)
);
