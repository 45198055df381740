-- Every service database keeps a projection of who may see whose data, fed by the
-- access projector from the users service's events, and the Kafka offsets of the jobs
-- that write into it (progressdb already had that table).
create table if not exists consumer_offsets (
    consumer_group text not null,
    topic text not null,
    partition integer not null,
    next_offset bigint not null,
    updated_at timestamptz not null default now(),
    primary key (consumer_group, topic, partition)
);

create table access_grants (
    kind text not null check (kind in ('trainer', 'gym')),
    -- the trainer, or the gym
    grantee uuid not null,
    -- the client, or the gym member
    subject uuid not null,
    active boolean not null,
    -- time of the event that set this row: an older event never overwrites a newer one
    changed_at timestamptz not null,
    primary key (kind, grantee, subject)
);
