-- Trainer–client relationships, with their history: a row is never deleted; ending one
-- sets ended_at. At most one open (invited or active) relationship per pair.
create table trainer_clients (
    id uuid primary key,
    trainer_id uuid not null references users (id),
    client_id uuid not null references users (id),
    status text not null check (status in ('invited', 'active', 'declined', 'ended')),
    invited_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    responded_at timestamptz,
    ended_at timestamptz,
    ended_by uuid references users (id),
    check (trainer_id <> client_id)
);
create unique index trainer_clients_open on trainer_clients (trainer_id, client_id)
    where status in ('invited', 'active');
create index trainer_clients_client on trainer_clients (client_id);

-- Invitations to join a gym, accepted by the invited address once signed in.
create table gym_invitations (
    id uuid primary key,
    gym_id uuid not null references gyms (id),
    email text not null,
    role text not null check (role in ('trainer', 'client')),
    invited_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    accepted_at timestamptz,
    accepted_by uuid references users (id)
);
create index gym_invitations_email on gym_invitations (lower(email)) where accepted_at is null;
