-- Program templates: owned by a trainer or a gym; private, or shared within a gym.
-- Every save is a new version; the template row holds the current one.
create table program_templates (
    id uuid primary key,
    owner_kind text not null check (owner_kind in ('trainer', 'gym')),
    owner_id uuid not null,
    -- The gym whose trainers may see and assign it (null: private to the owner).
    shared_gym_id uuid,
    name text not null,
    version integer not null check (version >= 1),
    document jsonb not null,
    created_by uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index program_templates_owner on program_templates (owner_id);
create index program_templates_gym on program_templates (shared_gym_id) where shared_gym_id is not null;

create table program_versions (
    template_id uuid not null references program_templates (id),
    version integer not null,
    document jsonb not null,
    saved_by uuid not null,
    saved_at timestamptz not null default now(),
    primary key (template_id, version)
);

-- A program assigned to a client: a snapshot of the template's version at that moment,
-- so later edits of the template never change the client's plan or history.
create table program_assignments (
    id uuid primary key,
    template_id uuid not null references program_templates (id),
    template_version integer not null,
    client_id uuid not null,
    assigned_by uuid not null,
    start_date date not null,
    time_zone text not null,
    status text not null check (status in ('active', 'ended')),
    document jsonb not null,
    -- Counts the plan's changes; the plan event carries it.
    revision integer not null default 1,
    created_at timestamptz not null default now(),
    ended_at timestamptz
);
create index program_assignments_client on program_assignments (client_id, created_at desc);

-- The client's planned workouts by local date (in the assignment's time zone).
create table planned_workouts (
    id uuid primary key,
    assignment_id uuid not null references program_assignments (id),
    client_id uuid not null,
    date date not null,
    week integer not null,
    day integer not null,
    name text not null,
    -- The day's slots as prescribed by the snapshot.
    slots jsonb not null,
    -- The start of that local day, as an instant.
    starts_at timestamptz not null,
    unique (assignment_id, week, day)
);
create index planned_workouts_client_date on planned_workouts (client_id, date);
