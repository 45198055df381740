-- Access projections apply a change only over an older one: by the users database's
-- version of the change, not by any server's clock.
alter table access_grants add column version bigint not null default 0;

-- How current the projection is: per partition of the users topic, the latest
-- heartbeat applied (every change committed in the users database before `as_of` is in
-- the projection). The projection is as current as its least current partition.
create table access_freshness (
    topic text not null,
    partition integer not null,
    partitions integer not null,
    as_of timestamptz not null,
    primary key (topic, partition)
);
