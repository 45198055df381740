-- Gyms are tenants. A user belongs to at most one gym (members and trainers alike);
-- the owner manages it with the `gym` role.
create table gyms (
    id uuid primary key,
    name text not null check (length(name) between 1 and 100),
    owner_id uuid not null references users (id),
    created_at timestamptz not null default now()
);
alter table users add column gym_id uuid references gyms (id);
