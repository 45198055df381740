create table users (
    id uuid primary key,
    email text not null,
    password_hash text not null,
    role text not null check (role in ('admin', 'gym', 'trainer', 'client')),
    display_name text not null check (length(display_name) between 1 and 100),
    created_at timestamptz not null default now()
);
-- One account per address, whatever its case.
create unique index users_email_key on users (lower(email));
