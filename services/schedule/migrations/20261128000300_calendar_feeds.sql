-- iCalendar feeds: a client's bookings or a trainer's sessions, read by calendar apps
-- with an unguessable token in the URL. Only the token's SHA-256 is kept; revoking a
-- feed ends it at once.
create table calendar_feeds (
    id uuid primary key,
    owner_id uuid not null,
    owner_role text not null check (owner_role in ('client', 'trainer')),
    token_sha256 bytea not null unique,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
create index calendar_feeds_owner on calendar_feeds (owner_id);
