-- grain: one row per month, licence type, subscription, location and department
-- key: month, licence_type, subscription_id, location_name, department_id
-- Webex Go licences held and used per month (finance). Definitions in sql/README.md.
-- Months are calendar months of cfg_settings.reporting_timezone, cut as instants. Every
-- figure is attributed to the subscription, location and department in effect at the time
-- (fct_licence_segments): peaks and month-end counts at each instant, licence-days by the
-- day's last held instant, calls by their start time, and a device or licence unit counted
-- once per month in the group of its last held instant of the month. Missing location,
-- department or subscription show as '(none)'. Idle counts need call data for every day of
-- the month (fct_licence_months, up to the device data horizon): otherwise they are NULL.
-- Names come from the org directory as loaded now (stg_org_directory): department_name is
-- the department id when the directory does not list it; cost_centre, site and country are
-- NULL then.
with unit_usage as (
    select * from fct_licence_unit_usage
),

device_pieces as (
    select * from fct_licence_device_months
),

departments as (
    select * from dim_departments
),

locations as (
    select * from dim_locations
),

-- the month's Webex Go records with a device, for pairing (below)
go_calls as (
    select correlation_id, leg_id, local_call_id, remote_call_id, network_call_id
    from fct_webex_go_leg_devices
    -- a report of one month (cdr report --month) reads the month's days only
    where device_id is not null and in_report_days(call_date)
),

-- each Webex Go leg record made while its device held its licence, in the group in effect
-- then
call_hits as (
    select * from fct_licence_leg_hits
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
        max(coalesce(h.duration_seconds, 0)) as talk_seconds
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
        -- double holds exactly (round(9 / 60.0, 1) rounds the double below 0.15 to 0.1)
        round(sum(coalesce(duration_seconds, 0)) / 6.0) / 10 as webex_go_device_minutes
    from call_hits
    group by all
),

talk as (
    select
        month, licence_type, subscription_id, location_name, department_id,
        round(sum(talk_seconds) / 6.0) / 10 as webex_go_minutes
    from leg_talk
    group by all
),

used_devices as (
    select distinct month, device_id from call_hits
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

final as (
    select
        u.month,
        u.licence_type,
        u.subscription_id,
        u.location_name,
        loc.site,
        loc.country,
        u.department_id,
        coalesce(dep.department_name, u.department_id) as department_name,
        dep.cost_centre,
        u.licences_held_peak,
        u.licences_held_month_end,
        u.licence_days,
        cast(coalesce(dc.devices_held, 0) as bigint) as devices_held,
        cast(coalesce(dc.devices_activated, 0) as bigint) as devices_activated,
        cast(coalesce(dc.devices_used, 0) as bigint) as devices_used,
        cast(
            case when u.call_coverage = 'full' then coalesce(dc.devices_idle, 0) end
            as bigint
        ) as devices_idle,
        cast(coalesce(dc.devices_never_activated, 0) as bigint) as devices_never_activated,
        cast(coalesce(calls.webex_go_calls, 0) as bigint) as webex_go_calls,
        cast(coalesce(calls.webex_go_legs, 0) as bigint) as webex_go_legs,
        cast(coalesce(talk.webex_go_minutes, 0) as double) as webex_go_minutes,
        u.licences_used,
        u.licences_idle,
        u.licences_never_activated,
        cast(coalesce(calls.webex_go_device_minutes, 0) as double) as webex_go_device_minutes,
        u.covered_days,
        u.call_coverage
    from unit_usage as u
    left join device_counts as dc
        using (month, licence_type, subscription_id, location_name, department_id)
    left join calls
        using (month, licence_type, subscription_id, location_name, department_id)
    left join talk
        using (month, licence_type, subscription_id, location_name, department_id)
    left join departments as dep on u.department_id = dep.department_id
    left join locations as loc on u.location_name = loc.location_name
)

select * from final
