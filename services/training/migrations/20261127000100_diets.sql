-- Diet plans: daily targets and meals, written by a trainer or a gym; every save is a
-- new version (the plan row holds the current one).
create table diet_plans (
    id uuid primary key,
    owner_kind text not null check (owner_kind in ('trainer', 'gym')),
    owner_id uuid not null,
    name text not null,
    version integer not null check (version >= 1),
    document jsonb not null,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index diet_plans_owner on diet_plans (owner_id);

-- A plan assigned to a client: a snapshot of its version, applying from start_date to
-- end_date (inclusive; open while null) in the client's time zone. A client follows one
-- diet at a time: a new assignment ends the one before on the day before it starts.
create table diet_assignments (
    id uuid primary key,
    plan_id uuid not null references diet_plans (id),
    plan_version integer not null,
    client_id uuid not null,
    assigned_by uuid not null,
    start_date date not null,
    end_date date,
    time_zone text not null,
    status text not null check (status in ('active', 'ended')),
    document jsonb not null,
    revision integer not null default 1,
    created_at timestamptz not null default now()
);
create index diet_assignments_client on diet_assignments (client_id, created_at desc);

-- What a client ate, per local date: a food, its grams, and what 100 g of it holds.
create table food_log (
    id uuid primary key,
    client_id uuid not null,
    date date not null,
    meal text,
    food text not null,
    grams double precision not null check (grams > 0 and grams <= 5000),
    kcal double precision not null,
    protein_g double precision not null,
    carbs_g double precision not null,
    fat_g double precision not null,
    fiber_g double precision not null,
    logged_at timestamptz not null default clock_timestamp()
);
create index food_log_client_date on food_log (client_id, date);
