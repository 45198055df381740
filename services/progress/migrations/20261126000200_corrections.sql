-- Corrections and deletions of sets: a fact keeps the highest revision it has seen of
-- its set (a replayed older change never undoes a newer one), and a deleted set stays
-- as a tombstone so that a replayed `set_logged` cannot bring it back.
alter table set_facts add column revision integer not null default 1;
alter table set_facts add column deleted boolean not null default false;
create index set_facts_client_exercise on set_facts (client_id, exercise) where not deleted;

-- The exercise library as the analytics learn it from the change stream: which muscles
-- each exercise works (volume per muscle group, hard sets).
create table exercise_catalog (
    exercise_id uuid primary key,
    slug text not null,
    name text not null,
    primary_muscles text[] not null,
    secondary_muscles text[] not null,
    revision bigint not null,
    updated_at timestamptz not null default now()
);
create index exercise_catalog_slug on exercise_catalog (slug);
