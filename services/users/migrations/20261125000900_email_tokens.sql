alter table users add column email_verified_at timestamptz;

-- One-time tokens sent by email (address verification, password reset). Only a SHA-256
-- of the token is kept; a token is spent once.
create table email_tokens (
    token_hash text primary key,
    user_id uuid not null references users (id),
    purpose text not null check (purpose in ('verify_email', 'password_reset')),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create index email_tokens_user on email_tokens (user_id);
