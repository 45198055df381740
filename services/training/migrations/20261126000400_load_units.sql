-- The unit each user enters and reads loads in (absent: kilograms). Loads are stored in
-- kilograms; `workout_sets.unit` records the unit a set was entered in.
create table load_units (
    user_id uuid primary key,
    unit text not null check (unit in ('kg', 'lb')),
    updated_at timestamptz not null default now()
);
alter table workout_sets add column unit text not null default 'kg' check (unit in ('kg', 'lb'));
