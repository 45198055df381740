-- Trainer and gym analytics. The analytics job keeps the facts (memberships, coaching
-- relationships, sessions, session types, availability, package purchases, and what
-- each booking went through); the functions below compute the business figures from
-- them and from the client analytics when read, for the API and the Grafana dashboards
-- alike (docs/analytics.md, "Trainer and gym analytics").

-- Gym membership as it now stands (users' `fitsync.gym.member_*` events, ordered by
-- version, then time). `first_joined_at` is the first join seen: the sign-up and the
-- retention cohort.
create table member_facts (
    gym_id uuid not null,
    user_id uuid not null,
    role text not null,
    active boolean not null,
    first_joined_at timestamptz,
    version bigint not null,
    changed_at timestamptz not null,
    primary key (gym_id, user_id)
);
create index member_facts_user on member_facts (user_id);

-- Trainer–client relationships (either end may arrive first).
create table coaching_facts (
    relationship_id uuid primary key,
    trainer_id uuid not null,
    client_id uuid not null,
    started_at timestamptz,
    ended_at timestamptz
);
create index coaching_facts_trainer on coaching_facts (trainer_id);

-- Sessions on the calendar at their newest revision.
create table session_facts (
    session_id uuid primary key,
    trainer_id uuid not null,
    session_type_id uuid not null,
    kind text not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    capacity integer not null,
    booked integer not null,
    status text not null,
    revision integer not null
);
create index session_facts_trainer on session_facts (trainer_id, starts_at);

-- Who offers each session type (the newest definition).
create table session_type_facts (
    session_type_id uuid primary key,
    owner_kind text not null,
    owner_id uuid not null,
    name text not null,
    kind text not null
);

-- Each trainer's bookable hours at their newest revision (local `HH:MM` in `time_zone`).
create table availability_facts (
    trainer_id uuid primary key,
    time_zone text not null,
    weekly jsonb not null,
    exceptions jsonb not null,
    revision integer not null
);

-- Packages paid for: revenue.
create table purchase_facts (
    purchase_id uuid primary key,
    client_id uuid not null,
    owner_kind text not null,
    owner_id uuid not null,
    price_cents bigint not null,
    currency text not null,
    paid_at timestamptz not null
);
create index purchase_facts_owner on purchase_facts (owner_id, paid_at);

-- What a booking went through, whatever revision is held: it queued on a waitlist, and
-- it got a place from there. (Every revision seen sets them; none clears them.)
alter table booking_facts
    add column session_type_id uuid,
    add column waitlisted boolean not null default false,
    add column promoted boolean not null default false;

-- The bookings on a gym's sessions (its own session types, or sessions of its current
-- trainers), with the local time of the session's start in its trainer's time zone.
create view gym_bookings as
select g.gym_id, b.booking_id, b.client_id, b.trainer_id, b.session_id, b.starts_at,
       b.starts_at at time zone coalesce(a.time_zone, 'UTC') as local_start,
       b.status, b.waitlisted, b.promoted
from booking_facts b
join lateral (
    select m.gym_id from member_facts m
    where m.user_id = b.trainer_id and m.role = 'trainer' and m.active
    union
    select t.owner_id from session_type_facts t
    where t.session_type_id = b.session_type_id and t.owner_kind = 'gym'
) g on true
left join availability_facts a on a.trainer_id = b.trainer_id;

-- A client's active days: a training day or an attended session.
create view client_activity as
select client_id, day from daily_training where sets > 0
union
select client_id, day from daily_adherence where attended > 0;

-- Places taken (a waitlisted booking never promoted took none; cancelled early gave
-- it back).
create function took_place(status text) returns boolean
language sql immutable
return status in ('booked', 'checked_in', 'attended', 'no_show', 'late_cancelled');

-- A trainer's available minutes over local days [from_day, to_day], from their hours as
-- they now stand: the weekly hours of each day plus `extra` hours, less `off` hours; a
-- day `off` without hours has none.
create function available_minutes(trainer uuid, from_day date, to_day date) returns bigint
language sql stable
begin atomic
    select coalesce(sum(
        case when exists (
            select 1 from jsonb_to_recordset(a.exceptions) as e(date date, kind text, starts text, ends text)
            where e.date = d::date and e.kind = 'off' and e.starts is null
        ) then 0 else
            (select coalesce(sum(extract(epoch from (w.ends::time - w.starts::time)) / 60), 0)
             from jsonb_to_recordset(a.weekly) as w(weekday int, starts text, ends text)
             where w.weekday = extract(isodow from d))
          + (select coalesce(sum(extract(epoch from (e.ends::time - e.starts::time)) / 60
                                 * case e.kind when 'extra' then 1 else -1 end), 0)
             from jsonb_to_recordset(a.exceptions) as e(date date, kind text, starts text, ends text)
             where e.date = d::date and e.starts is not null)
        end), 0)::bigint
    from availability_facts a, generate_series(from_day, to_day, interval '1 day') as d
    where a.trainer_id = trainer;
end;

-- A trainer's sessions on local days [from_day, to_day] that are not cancelled and have
-- a place taken (a no-show took it too): their minutes.
create function booked_minutes(trainer uuid, from_day date, to_day date) returns bigint
language sql stable
begin atomic
    select coalesce(sum(extract(epoch from (s.ends_at - s.starts_at)) / 60), 0)::bigint
    from session_facts s left join availability_facts a on a.trainer_id = s.trainer_id
    where s.trainer_id = trainer and s.status = 'scheduled'
      and (s.starts_at at time zone coalesce(a.time_zone, 'UTC'))::date between from_day and to_day
      and exists (select 1 from booking_facts b where b.session_id = s.session_id and took_place(b.status));
end;

-- Per trainer over days [from_day, to_day]: sessions and minutes on the trainer's local
-- days, relationships on UTC days; clients are those of `to_day`.
create function trainer_kpis(trainer uuid, from_day date, to_day date)
returns table (
    clients bigint, new_clients bigint, ended_clients bigint, active_clients bigint,
    sessions_delivered bigint, booked_minutes bigint, available_minutes bigint,
    utilisation float8, average_adherence float8, retention float8
)
language sql stable
begin atomic
    with current_clients as (
        select distinct client_id from coaching_facts
        where trainer_id = trainer and started_at < to_day + 1 and (ended_at is null or ended_at >= to_day + 1)
    ), at_start as (
        select distinct client_id from coaching_facts
        where trainer_id = trainer and started_at < from_day and (ended_at is null or ended_at >= from_day)
    ), per_client as (
        select a.client_id, sum(a.completed + a.attended)::float8 / nullif(sum(a.planned + a.sessions), 0) as adherence
        from daily_adherence a join current_clients c using (client_id)
        where a.day between from_day and to_day group by a.client_id
    ), minutes as (
        select booked_minutes(trainer, from_day, to_day) as booked,
               available_minutes(trainer, from_day, to_day) as available
    )
    select
        (select count(*) from current_clients),
        (select count(distinct client_id) from coaching_facts
          where trainer_id = trainer and started_at >= from_day and started_at < to_day + 1),
        (select count(distinct client_id) from coaching_facts
          where trainer_id = trainer and ended_at >= from_day and ended_at < to_day + 1),
        (select count(distinct c.client_id) from current_clients c
          join client_activity x on x.client_id = c.client_id and x.day between from_day and to_day),
        (select count(*) from session_facts s left join availability_facts a on a.trainer_id = s.trainer_id
          where s.trainer_id = trainer and s.status = 'scheduled' and s.ends_at <= now()
            and (s.starts_at at time zone coalesce(a.time_zone, 'UTC'))::date between from_day and to_day
            and exists (select 1 from booking_facts b where b.session_id = s.session_id
                        and b.status in ('attended', 'checked_in'))),
        m.booked, m.available,
        m.booked::float8 / nullif(m.available, 0),
        (select avg(adherence) from per_client),
        (select count(*) filter (where s.client_id in (select client_id from current_clients))::float8
                / nullif(count(*), 0) from at_start s)
    from minutes m;
end;

-- Per gym over days [from_day, to_day]: members now; active members in the 7 and 30
-- days to `to_day` (or today, if that is earlier); sign-ups (UTC days); bookings (places
-- taken, the trainer's local days), attendance, no-show rate (no-shows ÷ (attended +
-- checked in + no-shows)), waitlist conversion (promoted ÷ waitlisted) and its current
-- trainers' utilisation (minutes of all their sessions with a place taken ÷ their
-- available minutes).
create function gym_kpis(gym uuid, from_day date, to_day date)
returns table (
    members bigint, active_7 bigint, active_30 bigint, signups bigint,
    bookings bigint, attended bigint, no_shows bigint, no_show_rate float8,
    waitlisted bigint, promoted bigint, waitlist_conversion float8,
    booked_minutes bigint, available_minutes bigint, utilisation float8
)
language sql stable
begin atomic
    with clients as (
        select user_id, first_joined_at, active from member_facts where gym_id = gym and role = 'client'
    ), bookings as (
        select * from gym_bookings where gym_id = gym and local_start::date between from_day and to_day
    ), minutes as (
        select coalesce(sum(booked_minutes(m.user_id, from_day, to_day)), 0)::bigint as booked,
               coalesce(sum(available_minutes(m.user_id, from_day, to_day)), 0)::bigint as available
        from member_facts m where m.gym_id = gym and m.role = 'trainer' and m.active
    )
    select
        (select count(*) from clients where active),
        (select count(distinct c.user_id) from clients c join client_activity x on x.client_id = c.user_id
          where c.active and x.day between least(to_day, current_date) - 6 and least(to_day, current_date)),
        (select count(distinct c.user_id) from clients c join client_activity x on x.client_id = c.user_id
          where c.active and x.day between least(to_day, current_date) - 29 and least(to_day, current_date)),
        (select count(*) from clients where first_joined_at >= from_day and first_joined_at < to_day + 1),
        b.taken, b.attended, b.no_shows,
        b.no_shows::float8 / nullif(b.attended + b.no_shows, 0),
        b.waitlisted, b.promoted, b.promoted::float8 / nullif(b.waitlisted, 0),
        m.booked, m.available, m.booked::float8 / nullif(m.available, 0)
    from (select count(*) filter (where took_place(status)) as taken,
                 count(*) filter (where status in ('attended', 'checked_in')) as attended,
                 count(*) filter (where status = 'no_show') as no_shows,
                 count(*) filter (where waitlisted) as waitlisted,
                 count(*) filter (where promoted) as promoted
          from bookings) b, minutes m;
end;

-- A gym's places taken by local weekday (ISO, 1 = Monday) and hour of the session's start.
create function gym_booking_hours(gym uuid, from_day date, to_day date)
returns table (weekday int, hour int, bookings bigint)
language sql stable
begin atomic
    select extract(isodow from local_start)::int, extract(hour from local_start)::int, count(*)
    from gym_bookings
    where gym_id = gym and local_start::date between from_day and to_day and took_place(status)
    group by 1, 2 order by 1, 2;
end;

-- Monthly retention cohorts of a gym's clients: for each month clients first joined in,
-- from the month `from_day` falls in to `to_day`, and each month since up to `to_day`'s,
-- how many of them were active in it (a training day or an attended session).
create function gym_cohorts(gym uuid, from_day date, to_day date)
returns table (cohort date, month_offset int, members bigint, retained bigint)
language sql stable
begin atomic
    with members as (
        select user_id, date_trunc('month', first_joined_at)::date as cohort
        from member_facts
        where gym_id = gym and role = 'client' and first_joined_at >= date_trunc('month', from_day)
          and first_joined_at < to_day + 1
    ), sizes as (
        select cohort, count(*) as members from members group by cohort
    ), offsets as (
        select s.cohort, s.members, k::int as month_offset
        from sizes s, generate_series(0, (extract(year from age(date_trunc('month', to_day), s.cohort)) * 12
                                          + extract(month from age(date_trunc('month', to_day), s.cohort)))::int) as k
    )
    select o.cohort, o.month_offset, o.members,
           (select count(distinct m.user_id) from members m join client_activity x on x.client_id = m.user_id
             where m.cohort = o.cohort
               and x.day >= (o.cohort + make_interval(months => o.month_offset))::date
               and x.day < (o.cohort + make_interval(months => o.month_offset + 1))::date)
    from offsets o order by 1, 2;
end;

-- Revenue from packages sold by a gym or a trainer, per month paid and currency.
create function package_revenue(owner uuid, from_day date, to_day date)
returns table (month date, currency text, purchases bigint, revenue_cents bigint)
language sql stable
begin atomic
    select date_trunc('month', paid_at)::date, currency, count(*), sum(price_cents)::bigint
    from purchase_facts
    where owner_id = owner and paid_at >= from_day and paid_at < to_day + 1
    group by 1, 2 order by 1, 2;
end;

-- A gym metric per day over local days [from_day, to_day] (days without any are left
-- out): `bookings`, `attended`, `no_shows`, `signups` or `active_members`.
create function gym_daily(gym uuid, metric text, from_day date, to_day date)
returns table (day date, value bigint)
language sql stable
begin atomic
    select d, v from (
        select local_start::date as d, count(*) filter (where took_place(status)) as v
        from gym_bookings where metric = 'bookings' and gym_id = gym
          and local_start::date between from_day and to_day group by 1
        union all
        select local_start::date, count(*) filter (where status in ('attended', 'checked_in'))
        from gym_bookings where metric = 'attended' and gym_id = gym
          and local_start::date between from_day and to_day group by 1
        union all
        select local_start::date, count(*) filter (where status = 'no_show')
        from gym_bookings where metric = 'no_shows' and gym_id = gym
          and local_start::date between from_day and to_day group by 1
        union all
        select first_joined_at::date, count(*)
        from member_facts where metric = 'signups' and gym_id = gym and role = 'client'
          and first_joined_at >= from_day and first_joined_at < to_day + 1 group by 1
        union all
        select x.day, count(distinct x.client_id)
        from client_activity x join member_facts m on m.user_id = x.client_id
        where metric = 'active_members' and m.gym_id = gym and m.role = 'client' and m.active
          and x.day between from_day and to_day group by 1
    ) t(d, v)
    where v > 0 order by d;
end;

-- What a trainer's at-risk list is ranked from, for each current client (the access
-- projection's): days since their last training day, no-shows in the 30 days before
-- `today`, and adherence over the 7 and 30 days before it (0 to 1).
create function risk_inputs(trainer uuid, today date)
returns table (client_id uuid, days_since bigint, no_shows_30 bigint, adherence_7 float8, adherence_30 float8)
language sql stable
begin atomic
    select g.subject,
           (select today - max(t.day) from daily_training t where t.client_id = g.subject and t.day <= today)::bigint,
           (select coalesce(sum(no_shows), 0) from daily_adherence a
             where a.client_id = g.subject and a.day >= today - 30 and a.day < today)::bigint,
           (select sum(completed + attended)::float8 / nullif(sum(planned + sessions), 0)
             from daily_adherence a where a.client_id = g.subject and a.day >= today - 7 and a.day < today),
           (select sum(completed + attended)::float8 / nullif(sum(planned + sessions), 0)
             from daily_adherence a where a.client_id = g.subject and a.day >= today - 30 and a.day < today)
    from access_grants g
    where g.kind = 'trainer' and g.grantee = trainer and g.active;
end;

-- Grafana reads progressdb as this role: SELECT only (its login and password are the
-- deployment's; `fitsync_dashboards` is granted to it).
do $$
begin
    create role fitsync_dashboards nologin;
exception when duplicate_object or unique_violation then
    null;
end
$$;
grant usage on schema public to fitsync_dashboards;
grant select on all tables in schema public to fitsync_dashboards;
alter default privileges in schema public grant select on tables to fitsync_dashboards;
-- Health records are read through the API only, where every read is audited.
revoke select on health_records from fitsync_dashboards;
