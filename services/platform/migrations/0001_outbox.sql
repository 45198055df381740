-- Transactional outbox: a handler inserts its business rows and its events in one
-- transaction; the relay publishes rows in id order and deletes them once Kafka has
-- acknowledged them. `payload` is the CloudEvents JSON exactly as produced.
create table outbox (
    id bigint generated always as identity primary key,
    topic text not null,
    message_key text not null,
    payload json not null,
    created_at timestamptz not null default now()
);
