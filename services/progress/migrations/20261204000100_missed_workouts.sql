-- The day-close pass of the analytics job: a planned workout whose local day ended with
-- no finished workout carrying it out is signalled once (fitsync.progress.workout_missed.v1
-- through this database's outbox, in the transaction that records it here).

-- The assignment's time zone: its planned days are local days there.
alter table plan_facts add column time_zone text not null default 'UTC';

-- Each planned workout signalled as missed, and when.
create table missed_workouts (
    planned_workout_id uuid primary key,
    client_id uuid not null,
    day date not null,
    signalled_at timestamptz not null default now()
);

-- The pass looks at the last few days only.
create index planned_facts_day on planned_facts (day);
