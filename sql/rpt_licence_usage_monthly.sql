-- grain: one row per month, licence type, subscription, location and department
-- key: month, licence_type, subscription_id, location_name, department_id
-- Webex Go licences held and used per month (finance). Definitions in sql/README.md.
-- A licence (licence_unit_id: the BYOD device or the Mobile number) is counted in the group
-- of each day it was held (licence-days, peak, month end); per-device counts (held,
-- activated, used, idle, never activated) put the device in the group of its last licence
-- day of the month. Missing location, department or subscription show as '(none)'.
with licence_days as (
    select
        cast(date_trunc('month', licence_day) as date) as month,
        licence_day,
        licence_unit_id,
        device_id,
        licence_type,
        coalesce(subscription_id, '(none)') as subscription_id,
        coalesce(location_name, '(none)') as location_name,
        coalesce(department_id, '(none)') as department_id,
        status_at_day_end
    from fct_licence_days
),

devices as (
    select device_id, first_activated_at from dim_webex_go_devices
),

go_calls as (
    select device_id, report_date, correlation_id, duration_seconds
    from fct_webex_go_calls
    where device_id is not null
),

horizon as (
    select max(licence_day) as last_day from fct_licence_days
),

-- The month's last day, or the last day with data for the month still running.
month_ends as (
    select distinct
        licence_days.month,
        least(last_day(licence_days.month), horizon.last_day) as month_end_day
    from licence_days
    cross join horizon
),

daily as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        licence_day,
        count(distinct licence_unit_id) as held,
        -- Still held when the day ended (the deletion day is a licence-day, but the licence
        -- is back in the pool at its end).
        count(distinct licence_unit_id) filter (
            where status_at_day_end is distinct from 'DELETED'
        ) as held_at_day_end
    from licence_days
    group by all
),

held as (
    select
        daily.month,
        daily.licence_type,
        daily.subscription_id,
        daily.location_name,
        daily.department_id,
        max(daily.held) as licences_held_peak,
        cast(
            coalesce(
                sum(daily.held_at_day_end) filter (
                    where daily.licence_day = month_ends.month_end_day
                ),
                0
            ) as bigint
        ) as licences_held_month_end,
        cast(sum(daily.held) as bigint) as licence_days
    from daily
    inner join month_ends on daily.month = month_ends.month
    group by all
),

-- Calls are attributed to the licence group of the day they were made.
call_days as (
    select
        licence_days.month,
        licence_days.licence_type,
        licence_days.subscription_id,
        licence_days.location_name,
        licence_days.department_id,
        licence_days.device_id,
        go_calls.correlation_id,
        go_calls.duration_seconds
    from go_calls
    inner join licence_days
        on go_calls.device_id = licence_days.device_id
        and go_calls.report_date = licence_days.licence_day
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
        round(sum(coalesce(duration_seconds, 0)) / 60.0, 1) as webex_go_minutes
    from call_days
    group by all
),

device_month as (
    select
        month,
        device_id,
        arg_max(licence_type, licence_day) as licence_type,
        arg_max(subscription_id, licence_day) as subscription_id,
        arg_max(location_name, licence_day) as location_name,
        arg_max(department_id, licence_day) as department_id,
        max(licence_day) as last_held_day
    from licence_days
    group by month, device_id
),

device_flags as (
    select
        dm.*,
        d.first_activated_at is not null
        and cast(timezone('UTC', d.first_activated_at) as date) <= dm.last_held_day
            as is_activated,
        exists (
            select 1
            from call_days as cd
            where cd.device_id = dm.device_id and cd.month = dm.month
        ) as is_used
    from device_month as dm
    left join devices as d on dm.device_id = d.device_id
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
        count(*) filter (where not is_activated) as devices_never_activated
    from device_flags
    group by all
),

final as (
    select
        held.month,
        held.licence_type,
        held.subscription_id,
        held.location_name,
        held.department_id,
        held.licences_held_peak,
        held.licences_held_month_end,
        held.licence_days,
        coalesce(dc.devices_held, 0) as devices_held,
        coalesce(dc.devices_activated, 0) as devices_activated,
        coalesce(dc.devices_used, 0) as devices_used,
        coalesce(dc.devices_idle, 0) as devices_idle,
        coalesce(dc.devices_never_activated, 0) as devices_never_activated,
        coalesce(calls.webex_go_calls, 0) as webex_go_calls,
        coalesce(calls.webex_go_legs, 0) as webex_go_legs,
        coalesce(calls.webex_go_minutes, 0) as webex_go_minutes
    from held
    left join device_counts as dc
        on held.month = dc.month
        and held.licence_type = dc.licence_type
        and held.subscription_id = dc.subscription_id
        and held.location_name = dc.location_name
        and held.department_id = dc.department_id
    left join calls
        on held.month = calls.month
        and held.licence_type = calls.licence_type
        and held.subscription_id = calls.subscription_id
        and held.location_name = calls.location_name
        and held.department_id = calls.department_id
)

select * from final
