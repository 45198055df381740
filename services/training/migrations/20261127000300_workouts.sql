-- Workout sessions: a client's sets grouped, linked to a planned workout or ad hoc.
create table workouts (
    id uuid primary key,
    client_id uuid not null,
    -- A planned workout is carried out by at most one session; ending a program drops
    -- its later planned workouts, and a session of one becomes ad hoc.
    planned_workout_id uuid references planned_workouts (id) on delete set null,
    started_at timestamptz not null,
    finished_at timestamptz,
    notes text check (length(notes) <= 2000),
    perceived_effort integer check (perceived_effort between 1 and 10),
    revision integer not null default 1,
    created_at timestamptz not null default now()
);
create index workouts_client on workouts (client_id, started_at desc);
create unique index workouts_planned on workouts (planned_workout_id) where planned_workout_id is not null;

alter table workout_sets add column workout_id uuid references workouts (id);
alter table workout_sets add column rpe double precision check (rpe between 1 and 10);
alter table workout_sets add column failed boolean not null default false;
create index workout_sets_workout on workout_sets (workout_id) where workout_id is not null;

-- A trainer's (or gym's) feedback on a client's workout.
create table workout_comments (
    id uuid primary key,
    workout_id uuid not null references workouts (id) on delete cascade,
    client_id uuid not null,
    author_id uuid not null,
    body text not null check (length(body) between 1 and 2000),
    created_at timestamptz not null default now()
);
create index workout_comments_workout on workout_comments (workout_id, created_at);
