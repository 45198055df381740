-- A client's training log: one row per working set.
create table workout_sets (
    id uuid primary key,
    client_id uuid not null,
    exercise text not null check (exercise ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(exercise) <= 64),
    reps integer not null check (reps between 1 and 100),
    weight_kg double precision not null check (weight_kg between 0 and 1000),
    rir integer check (rir between 0 and 10),
    performed_at timestamptz not null,
    -- clock_timestamp(), not now(): the moment of the insert, which freshness is measured from.
    logged_at timestamptz not null default clock_timestamp()
);
create index workout_sets_client_performed on workout_sets (client_id, performed_at desc);
