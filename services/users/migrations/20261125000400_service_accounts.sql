-- Service accounts authenticate with the client-credentials grant (service-to-service).
create table service_accounts (
    id uuid primary key,
    client_id text not null unique check (client_id ~ '^[a-z0-9][a-z0-9-]{2,62}$'),
    secret_hash text not null,
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    disabled_at timestamptz
);
