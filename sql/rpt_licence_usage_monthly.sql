-- grain: one row per month, licence type, subscription, location and department
-- key: month, licence_type, subscription_id, location_name, department_id
-- Webex Go licences held and used per month (finance). Definitions in sql/README.md.
-- Months are calendar months of cfg_settings.reporting_timezone, cut as instants. Every
-- figure is attributed to the subscription, location and department in effect at the time
-- (fct_licence_segments): peaks and month-end counts at each instant, licence-days by the
-- day's last held instant, calls by their start time, and a device or licence unit counted
-- once per month in the group of its last held instant of the month. Missing location,
-- department or subscription show as '(none)'. Idle and never-activated counts need call
-- data for every day of the month (fct_licence_months, up to the device data horizon):
-- otherwise they are NULL.
-- Names come from the org directory as loaded now (stg_org_directory): department_name is
-- the department id when the directory does not list it; cost_centre, site and country are
-- NULL then.
with
-- each unit segment cut at the month boundaries (instants of the reporting time zone); an
-- open segment runs to the month of the data horizon. Device segments are cut the same way
-- (fct_licence_device_months)
unit_pieces as (
    select * from fct_licence_unit_months
),

departments as (
    select * from dim_departments
),

locations as (
    select * from dim_locations
),

go_calls as (
    select
        device_id, call_date, start_time, correlation_id, leg_id, local_call_id, remote_call_id,
        network_call_id, duration_seconds
    from fct_webex_go_leg_devices
    -- a report of one month (cdr report --month) reads the month's days only
    where device_id is not null and in_report_days(call_date)
),

licence_days as (
    select
        cast(date_trunc('month', licence_day) as date) as month,
        coalesce(licence_type, '(none)') as licence_type,
        coalesce(subscription_id, '(none)') as subscription_id,
        coalesce(location_name, '(none)') as location_name,
        coalesce(department_id, '(none)') as department_id,
        count(*) as licence_days
    from fct_licence_days
    group by all
),

device_pieces as (
    select * from fct_licence_device_months
),

-- Units held at each instant: +1 when a piece starts, -1 when it ends (an end sorts before a
-- start at the same instant: intervals are half-open); the peak is the running maximum.
unit_moves as (
    select month, licence_type, subscription_id, location_name, department_id,
        piece_from as moved_at, 1 as delta
    from unit_pieces
    union all
    select month, licence_type, subscription_id, location_name, department_id,
        piece_to as moved_at, -1 as delta
    from unit_pieces
),

running as (
    select
        *,
        sum(delta) over (
            partition by month, licence_type, subscription_id, location_name, department_id
            order by moved_at, delta
            rows between unbounded preceding and current row
        ) as held
    from unit_moves
),

held as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        cast(max(held) as bigint) as licences_held_peak
    from running
    group by all
),

-- held when the month ended (for the month of the data horizon: still held at the horizon)
month_end as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(distinct licence_unit_id) as licences_held_month_end
    from unit_pieces
    where piece_to = month_end_at
    group by all
),

-- each device piece on every UTC day it touches: the legs are stored by UTC day (call_date),
-- so the join on the day passes the pieces' days to the scan of the legs, which skips the
-- files of the other days
device_piece_days as (
    select
        p.*,
        cast(d.day as date) as call_date
    from device_pieces as p,
        unnest(generate_series(
            cast(cast(timezone('UTC', p.piece_from) as date) as timestamp),
            cast(cast(timezone('UTC', p.piece_to - interval 1 microsecond) as date) as timestamp),
            interval 1 day
        )) as d(day)
),

-- a leg uses its device's licence only when it started while the device held it; it counts
-- in the group in effect then
call_hits as (
    select
        p.month,
        p.licence_type,
        p.subscription_id,
        p.location_name,
        p.department_id,
        p.device_id,
        p.licence_unit_id,
        g.correlation_id,
        g.leg_id,
        g.local_call_id,
        g.remote_call_id,
        g.network_call_id,
        g.duration_seconds
    from go_calls as g
    inner join device_piece_days as p
        on g.device_id = p.device_id
        and g.call_date = p.call_date
        and g.start_time >= p.piece_from
        and g.start_time < p.piece_to
),

-- A record without both call IDs belongs to the leg of the record that has both and is its
-- other side (its Remote call ID is this one's Local call ID, or the reverse, or they share
-- the Network call ID), as fct_calls pairs them: fct_call_legs.leg_id gives it a leg of its
-- own. Only the month's Webex Go records matter here (a leg counts twice only when both of
-- its records are among them), so they are paired among themselves (before the join with
-- the devices' pieces, which pairing the hits would compute again).
hit_partners as (
    select
        part.correlation_id,
        part.leg_id as own_leg_id,
        min(whole.leg_id) as leg_id
    from go_calls as part
    inner join go_calls as whole
        on part.correlation_id = whole.correlation_id
        and (
            whole.remote_call_id = part.local_call_id
            or whole.local_call_id = part.remote_call_id
            or whole.network_call_id = part.network_call_id
        )
    where
        (part.local_call_id is null or part.remote_call_id is null)
        and whole.local_call_id is not null
        and whole.remote_call_id is not null
    group by part.correlation_id, part.leg_id
),

-- a leg's conversation once per group, even when both of its records are Webex Go devices
-- of the group, in the month of the group's first record of the leg: the two records start
-- a moment apart, sometimes either side of a month's end (a month's report reads the day
-- either side, so it sees the other record)
leg_talk as (
    select
        min(h.month) as month,
        h.licence_type,
        h.subscription_id,
        h.location_name,
        h.department_id,
        coalesce(p.leg_id, h.leg_id) as leg_id,
        -- NULL when none of its records has a Duration: unknown, not 0 (as in fct_calls)
        max(h.duration_seconds) as talk_seconds
    from call_hits as h
    left join hit_partners as p
        on h.correlation_id = p.correlation_id and h.leg_id = p.own_leg_id
    group by
        h.licence_type,
        h.subscription_id,
        h.location_name,
        h.department_id,
        coalesce(p.leg_id, h.leg_id)
),

calls as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(distinct correlation_id) as webex_go_calls,
        count(*) as webex_go_legs,
        -- minutes rounded half up to one decimal: tenths = round(seconds / 6), whose ties a
        -- double holds exactly (round(9 / 60.0, 1) rounds the double below 0.15 to 0.1).
        -- A record without a Duration is left out; NULL when none has one (unknown, not 0)
        round(sum(duration_seconds) / 6.0) / 10 as webex_go_device_minutes
    from call_hits
    group by all
),

talk as (
    select
        month, licence_type, subscription_id, location_name, department_id,
        count(*) as talk_legs,
        round(sum(talk_seconds) / 6.0) / 10 as webex_go_minutes
    from leg_talk
    group by all
),

used_devices as (
    select distinct month, device_id from call_hits
),

used_units as (
    select distinct month, licence_unit_id from call_hits
),

-- a device counts in the group of its last held instant of the month; it is activated when
-- its first activation came before the end of its holding in the month
device_month as (
    select
        month,
        device_id,
        arg_max(licence_type, piece_from) as licence_type,
        arg_max(subscription_id, piece_from) as subscription_id,
        arg_max(location_name, piece_from) as location_name,
        arg_max(department_id, piece_from) as department_id,
        max(piece_to) as held_until,
        any_value(first_activated_at) as first_activated_at
    from device_pieces
    group by month, device_id
),

device_flags as (
    select
        dm.*,
        coalesce(dm.first_activated_at < dm.held_until, false) as is_activated,
        u.device_id is not null as is_used
    from device_month as dm
    left join used_devices as u on dm.month = u.month and dm.device_id = u.device_id
),

device_counts as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(*) as devices_held,
        count(*) filter (where is_activated) as devices_activated,
        count(*) filter (where is_used) as devices_used,
        count(*) filter (where is_activated and not is_used) as devices_idle,
        count(*) filter (where not is_activated and not is_used) as devices_never_activated
    from device_flags
    group by all
),

-- a licence unit counts once, in the group of its last held instant of the month; it is
-- activated when one of its devices was activated while holding it, used when one of its
-- devices made a Webex Go leg while holding it. Used, idle and never activated partition
-- the units held (used first: a unit used without a recorded activation is used, not
-- never activated, or the reconciliation would charge it as idle); the same for devices.
unit_month as (
    select
        month,
        licence_unit_id,
        arg_max(licence_type, piece_from) as licence_type,
        arg_max(subscription_id, piece_from) as subscription_id,
        arg_max(location_name, piece_from) as location_name,
        arg_max(department_id, piece_from) as department_id
    from unit_pieces
    group by month, licence_unit_id
),

-- by the device's pieces on the unit: a Mobile device whose number changed in the month held
-- two units, and its activation counts for each one it held after it
unit_activated as (
    select
        month,
        licence_unit_id,
        coalesce(bool_or(first_activated_at < piece_to), false) as is_activated
    from device_pieces
    group by month, licence_unit_id
),

unit_flags as (
    select
        um.*,
        coalesce(ua.is_activated, false) as is_activated,
        uu.licence_unit_id is not null as is_used
    from unit_month as um
    left join unit_activated as ua
        on um.month = ua.month and um.licence_unit_id = ua.licence_unit_id
    left join used_units as uu
        on um.month = uu.month and um.licence_unit_id = uu.licence_unit_id
),

unit_counts as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(*) filter (where is_used) as licences_used,
        count(*) filter (where is_activated and not is_used) as licences_idle,
        count(*) filter (where not is_activated and not is_used) as licences_never_activated
    from unit_flags
    group by all
),

-- days of the month with call data, up to the day of the device data horizon
month_coverage as (
    select * from fct_licence_months
),

final as (
    select
        held.month,
        held.licence_type,
        held.subscription_id,
        held.location_name,
        loc.site,
        loc.country,
        held.department_id,
        coalesce(dep.department_name, held.department_id) as department_name,
        dep.cost_centre,
        held.licences_held_peak,
        cast(coalesce(me.licences_held_month_end, 0) as bigint) as licences_held_month_end,
        cast(coalesce(ld.licence_days, 0) as bigint) as licence_days,
        cast(coalesce(dc.devices_held, 0) as bigint) as devices_held,
        cast(coalesce(dc.devices_activated, 0) as bigint) as devices_activated,
        cast(coalesce(dc.devices_used, 0) as bigint) as devices_used,
        cast(
            case when mc.call_coverage = 'full' then coalesce(dc.devices_idle, 0) end
            as bigint
        ) as devices_idle,
        -- not used needs call data for every day, as idle does: a phone used on a day
        -- without it, its activation unrecorded, is used, not never activated
        cast(
            case when mc.call_coverage = 'full' then coalesce(dc.devices_never_activated, 0) end
            as bigint
        ) as devices_never_activated,
        cast(coalesce(calls.webex_go_calls, 0) as bigint) as webex_go_calls,
        cast(coalesce(calls.webex_go_legs, 0) as bigint) as webex_go_legs,
        -- 0 without a leg counted in the month (none, or all counted in the month before);
        -- NULL when none of the legs counted has a Duration
        cast(
            case when talk.talk_legs is null then 0 else talk.webex_go_minutes end as double
        ) as webex_go_minutes,
        cast(coalesce(uc.licences_used, 0) as bigint) as licences_used,
        cast(
            case when mc.call_coverage = 'full' then coalesce(uc.licences_idle, 0) end
            as bigint
        ) as licences_idle,
        -- not used needs call data for every day, as idle does: a phone used on a day
        -- without it, its activation unrecorded, is used, not never activated
        cast(
            case when mc.call_coverage = 'full' then coalesce(uc.licences_never_activated, 0) end
            as bigint
        ) as licences_never_activated,
        -- 0 without Webex Go records; NULL when none of them has a Duration
        cast(
            case when calls.webex_go_legs is null then 0 else calls.webex_go_device_minutes end
            as double
        ) as webex_go_device_minutes,
        mc.covered_days,
        mc.call_coverage
    from held
    inner join month_coverage as mc using (month)
    left join month_end as me using (month, licence_type, subscription_id, location_name, department_id)
    left join licence_days as ld using (month, licence_type, subscription_id, location_name, department_id)
    left join device_counts as dc using (month, licence_type, subscription_id, location_name, department_id)
    left join unit_counts as uc using (month, licence_type, subscription_id, location_name, department_id)
    left join calls using (month, licence_type, subscription_id, location_name, department_id)
    left join talk using (month, licence_type, subscription_id, location_name, department_id)
    left join departments as dep on held.department_id = dep.department_id
    left join locations as loc on held.location_name = loc.location_name
)

select * from final
