create table client_profiles (
    user_id uuid primary key references users (id),
    goals text check (length(goals) <= 2000),
    birthdate date,
    height_cm numeric(4, 1) check (height_cm between 50 and 272),
    experience text check (experience in ('beginner', 'intermediate', 'advanced')),
    -- Health data: readable by the client, their current trainer and admins only; every
    -- read by someone else is an audit event.
    health_notes text check (length(health_notes) <= 4000),
    updated_at timestamptz not null default now()
);

create table trainer_profiles (
    user_id uuid primary key references users (id),
    bio text check (length(bio) <= 4000),
    specialties text[] not null default '{}',
    certifications text[] not null default '{}',
    time_zone text,
    updated_at timestamptz not null default now()
);
