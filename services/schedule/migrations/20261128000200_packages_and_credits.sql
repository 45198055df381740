-- Packages and credits. A trainer or a gym sells packages (N sessions, valid for some
-- days, at a price); a client buys one through the payment gateway (pending until the
-- gateway's signed webhook says paid). Credits live in a ledger that is only ever
-- appended to: a paid purchase is a lot of credits, and every booking, refund, forfeit
-- and expiry is an entry against one lot. A balance is the sum of the entries.
create table packages (
    id uuid primary key,
    owner_kind text not null check (owner_kind in ('trainer', 'gym')),
    owner_id uuid not null,
    name text not null,
    sessions integer not null check (sessions between 1 and 1000),
    validity_days integer not null check (validity_days between 1 and 1095),
    price_cents bigint not null check (price_cents between 0 and 100000000),
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz not null default now()
);
create index packages_owner on packages (owner_id);

create table purchases (
    id uuid primary key,
    package_id uuid not null references packages,
    client_id uuid not null,
    owner_id uuid not null,
    sessions integer not null,
    validity_days integer not null,
    price_cents bigint not null,
    currency text not null,
    status text not null default 'pending' check (status in ('pending', 'paid', 'failed')),
    provider text not null,
    provider_ref text not null unique,
    created_at timestamptz not null default now(),
    paid_at timestamptz,
    -- credits of a paid purchase are valid until then
    expires_at timestamptz,
    check ((status = 'paid') = (paid_at is not null and expires_at is not null))
);
create index purchases_lots on purchases (client_id, owner_id, expires_at) where status = 'paid';

-- The gateway's webhook events seen, by its event id: a replayed one changes nothing.
create table payment_events (
    id text primary key,
    received_at timestamptz not null default now()
);

alter table bookings
    add column charged_purchase_id uuid references purchases,
    add column charged_credits integer not null default 0 check (charged_credits >= 0);

create table credit_ledger (
    id uuid primary key,
    client_id uuid not null,
    owner_id uuid not null,
    purchase_id uuid not null references purchases,
    booking_id uuid references bookings,
    kind text not null check (kind in ('purchase', 'consume', 'refund', 'forfeit', 'expire')),
    amount integer not null,
    created_at timestamptz not null default now(),
    -- a forfeit moves nothing: it records that a consumed credit is not coming back
    check ((kind in ('purchase', 'refund') and amount > 0)
        or (kind in ('consume', 'expire') and amount < 0)
        or (kind = 'forfeit' and amount = 0))
);
create index credit_ledger_lot on credit_ledger (purchase_id);
create index credit_ledger_client on credit_ledger (client_id, owner_id, created_at);

create function credit_ledger_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the credit ledger is append-only';
end
$$;
create trigger credit_ledger_append_only before update or delete or truncate on credit_ledger
    for each statement execute function credit_ledger_append_only();
