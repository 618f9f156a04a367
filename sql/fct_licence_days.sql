-- grain: one row per licence unit and day on which it held a Webex Go licence
-- key: licence_unit_id, licence_day
-- Days are calendar days in cfg_settings.reporting_timezone. A day counts when the licence was
-- held at any time of it, so the provisioning day and the deletion day both count. A holding
-- still open counts up to the day of int_device_as_of (the data horizon). device_id is the
-- device holding the unit at the end of the day (for a Mobile Operator number, the latest
-- device provisioned on it by then); status_at_day_end is that device's status then
-- (fct_device_status_history, DELETED on the deletion day).
with holdings as (
    select * from fct_licence_holdings
),

devices as (
    select * from dim_webex_go_devices
),

history as (
    select * from fct_device_status_history
),

settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

bounds as (
    select
        h.*,
        s.reporting_timezone,
        cast(timezone(s.reporting_timezone, h.held_from) as date) as first_day,
        cast(
            timezone(
                s.reporting_timezone,
                -- held_to is exclusive: the last held instant is just before it
                coalesce(h.held_to - interval 1 microsecond, a.as_of_time)
            ) as date
        ) as last_day
    from holdings as h
    cross join settings as s
    cross join as_of as a
),

days as (
    select
        b.licence_unit_id,
        b.licence_type,
        b.subscription_id,
        b.location_name,
        b.department_id,
        b.user_uuid,
        b.phone_number,
        b.device_id as holding_device_id,
        cast(d.day as date) as licence_day,
        timezone(b.reporting_timezone, cast(cast(d.day as date) + 1 as timestamp)) as day_end
    from bounds as b,
        unnest(generate_series(
            cast(b.first_day as timestamp), cast(b.last_day as timestamp), interval 1 day
        )) as d(day)
    where b.last_day >= b.first_day
),

day_devices as (
    select
        y.*,
        coalesce(v.device_id, y.holding_device_id) as device_id
    from days as y
    asof left join (select * from devices where is_known_device) as v
        on y.licence_unit_id = v.licence_unit_id and y.day_end > v.provisioned_at
),

final as (
    select
        y.licence_day,
        y.licence_unit_id,
        y.device_id,
        y.phone_number,
        y.licence_type,
        y.subscription_id,
        y.location_name,
        y.department_id,
        y.user_uuid,
        h.status as status_at_day_end
    from day_devices as y
    asof left join history as h
        on y.device_id = h.device_id and y.day_end > h.valid_from
)

select * from final
