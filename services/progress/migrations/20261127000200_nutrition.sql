-- Nutrition, written only by the analytics job. Every food entry it has applied, at the
-- newest revision seen (a deleted entry stays as a tombstone, so a replayed
-- `food_logged` cannot bring it back).
create table food_facts (
    entry_id uuid primary key,
    client_id uuid not null,
    date date not null,
    grams double precision not null,
    kcal double precision not null,
    protein_g double precision not null,
    carbs_g double precision not null,
    fat_g double precision not null,
    fiber_g double precision not null,
    revision integer not null,
    deleted boolean not null default false,
    event_id uuid not null,
    counted_at timestamptz not null default now()
);
create index food_facts_client_date on food_facts (client_id, date) where not deleted;

-- The daily targets of each diet assignment, by the days they apply (inclusive).
create table diet_targets (
    assignment_id uuid primary key,
    client_id uuid not null,
    start_date date not null,
    end_date date,
    kcal double precision not null,
    protein_g double precision not null,
    carbs_g double precision not null,
    fat_g double precision not null,
    fiber_g double precision not null,
    revision integer not null
);
create index diet_targets_client on diet_targets (client_id, start_date);

-- What each client ate per logged day, the targets that applied, and adherence in percent
-- (docs/analytics.md). A day nothing is logged for has no row.
create table daily_nutrition (
    client_id uuid not null,
    date date not null,
    kcal double precision not null,
    protein_g double precision not null,
    carbs_g double precision not null,
    fat_g double precision not null,
    fiber_g double precision not null,
    entries integer not null,
    target_kcal double precision,
    target_protein_g double precision,
    target_carbs_g double precision,
    target_fat_g double precision,
    target_fiber_g double precision,
    adherence_percent double precision,
    updated_at timestamptz not null default now(),
    primary key (client_id, date)
);
