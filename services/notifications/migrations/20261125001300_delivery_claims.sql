-- A delivery is claimed ('sending', claimed_at) and committed before the message is
-- handed to the SMTP server, then recorded ('sent' / 'failed'). A claim found still
-- 'sending' long after claimed_at means the sender stopped between the two, outcome
-- unknown: the message is sent again with the same Message-ID (at least once; see
-- docs/architecture.md). 'pending': a transient failure, retried.
alter table deliveries drop constraint deliveries_status_check;
alter table deliveries add constraint deliveries_status_check
    check (status in ('sending', 'pending', 'sent', 'failed'));
alter table deliveries add column message_id text;
alter table deliveries add column claimed_at timestamptz;
