-- The exercise library: the global library (imported from the Free Exercise DB, owner
-- null) and custom exercises of a trainer or a gym (private to their owner).
create table exercises (
    id uuid primary key,
    -- Stable for the exercise's life: sets and programs name exercises by it.
    slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 64),
    name text not null check (length(name) between 1 and 120),
    owner_kind text check (owner_kind in ('trainer', 'gym')),
    owner_id uuid,
    source_id text unique,
    force text check (force in ('pull', 'push', 'static')),
    level text not null check (level in ('beginner', 'intermediate', 'expert')),
    mechanic text check (mechanic in ('compound', 'isolation')),
    equipment text check (equipment in ('band', 'barbell', 'body_only', 'cable', 'dumbbell', 'ez_bar',
        'exercise_ball', 'foam_roll', 'kettlebell', 'machine', 'medicine_ball', 'other')),
    category text not null check (category in ('cardio', 'olympic_weightlifting', 'plyometrics',
        'powerlifting', 'strength', 'stretching', 'strongman')),
    primary_muscles text[] not null check (cardinality(primary_muscles) between 1 and 17),
    secondary_muscles text[] not null default '{}',
    -- Other names ("RDL"), and their slugs, by which a set may name the exercise.
    aliases text[] not null default '{}',
    alias_slugs text[] not null default '{}',
    revision bigint not null default 1,
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((owner_kind is null) = (owner_id is null)),
    check (owner_kind is null or source_id is null)
);
create index exercises_alias_slugs on exercises using gin (alias_slugs);
create index exercises_owner on exercises (owner_id) where owner_id is not null;

-- A set names a library exercise from now on. NOT VALID: sets logged before the library
-- existed keep their free-form slugs; every new or changed row is checked.
alter table workout_sets
    add constraint workout_sets_exercise_fkey foreign key (exercise) references exercises (slug) not valid;

-- Corrections and deletions are events too; a set's revision orders them.
alter table workout_sets add column revision integer not null default 1 check (revision >= 1);
