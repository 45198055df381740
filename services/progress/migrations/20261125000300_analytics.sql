-- Written only by the analytics stream job; read by the progress service.

-- Every set the job has counted, once: the job inserts here first and aggregates only
-- what was new, so a re-published event is never counted twice.
create table set_facts (
    set_id uuid primary key,
    client_id uuid not null,
    exercise text not null,
    reps integer not null,
    weight_kg double precision not null,
    rir integer,
    performed_at timestamptz not null,
    event_id uuid not null,
    counted_at timestamptz not null default now()
);
create index set_facts_client_performed on set_facts (client_id, performed_at);

-- Best estimated one-rep max per client and exercise.
create table exercise_e1rm (
    client_id uuid not null,
    exercise text not null,
    e1rm_kg double precision not null,
    e1rm_brzycki_kg double precision,
    set_id uuid not null,
    achieved_at timestamptz not null,
    updated_at timestamptz not null default now(),
    primary key (client_id, exercise)
);

-- Volume load per client per ISO week (Monday, UTC). numeric: sums are exact, so the
-- totals do not depend on how events were batched.
create table weekly_volume (
    client_id uuid not null,
    week_start date not null,
    volume_kg numeric(14, 2) not null,
    sets integer not null,
    updated_at timestamptz not null default now(),
    primary key (client_id, week_start)
);

-- Kafka offsets consumed into this database, written in the same transaction as the
-- results they produced. The job seeks here on assignment; Kafka commits are advisory.
create table consumer_offsets (
    consumer_group text not null,
    topic text not null,
    partition integer not null,
    next_offset bigint not null,
    updated_at timestamptz not null default now(),
    primary key (consumer_group, topic, partition)
);
