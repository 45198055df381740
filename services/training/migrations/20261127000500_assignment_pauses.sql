-- A program may be paused (the workouts after the day it was paused are held) and
-- resumed (they come back moved by the days paused: shift_days counts them all).
alter table program_assignments drop constraint program_assignments_status_check;
alter table program_assignments add constraint program_assignments_status_check
    check (status in ('active', 'paused', 'ended'));
alter table program_assignments add column paused_on date;
alter table program_assignments add column shift_days integer not null default 0;
