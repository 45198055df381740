-- The weeks the day-close pass summarised (fitsync.progress.weekly_summary.v1, written
-- through this database's outbox in the transaction that records the week here).
create table weekly_summaries (
    client_id uuid not null,
    week_start date not null,
    signalled_at timestamptz not null default now(),
    primary key (client_id, week_start)
);
