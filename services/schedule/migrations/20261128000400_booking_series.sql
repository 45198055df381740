-- A weekly series of 1:1s booked in one request: its occurrences share an id. Skipping
-- one is cancelling that booking; cancelling the series cancels those still to come.
alter table bookings add column series_id uuid;
create index bookings_series on bookings (series_id) where series_id is not null;
