-- grain: one row per Webex Go leg record made while its device held its licence
-- key: report_id
-- Each Webex Go leg record (fct_webex_go_leg_devices) with the device piece it started in
-- (fct_licence_device_months: start_time in [piece_from, piece_to)): a leg uses its device's
-- licence only when it started while the device held it, and counts in the month, licence
-- unit, licence type, subscription, location and department in effect then, as the call_hits
-- of rpt_licence_usage_monthly: fct_licence_unit_usage counts its used units here. A report
-- of one month (cdr report --month) reads the month's days only.
with go_calls as (
    select report_id, device_id, call_date, start_time, correlation_id, leg_id, duration_seconds
    from fct_webex_go_leg_devices
    where device_id is not null and in_report_days(call_date)
),

device_pieces as (
    select * from fct_licence_device_months
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

final as (
    select
        p.month,
        p.licence_type,
        p.subscription_id,
        p.location_name,
        p.department_id,
        p.device_id,
        p.licence_unit_id,
        g.report_id,
        g.correlation_id,
        g.leg_id,
        g.duration_seconds
    from go_calls as g
    inner join device_piece_days as p
        on g.device_id = p.device_id
        and g.call_date = p.call_date
        and g.start_time >= p.piece_from
        and g.start_time < p.piece_to
)

select * from final
