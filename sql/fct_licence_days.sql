-- grain: one row per licence unit and day on which it held a Webex Go licence
-- key: licence_unit_id, licence_day
-- Days are calendar days in cfg_settings.reporting_timezone. A day counts when the licence was
-- held at any time of it, so the provisioning day and the deletion day both count. A holding
-- still open counts up to the day of int_device_as_of (the data horizon). The row carries
-- the unit's last held instant of the day (fct_licence_segments): device_id, subscription,
-- location, department and user in effect then (not today's values: history is not
-- restated). is_held_at_day_end says whether the unit was still held when the day ended;
-- status_at_day_end is that device's status at the day's end (fct_device_status_history,
-- DELETED on the deletion day).
with segments as (
    select * from fct_licence_segments
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
        s.*,
        c.reporting_timezone,
        cast(timezone(c.reporting_timezone, s.segment_from) as date) as first_day,
        cast(
            timezone(
                c.reporting_timezone,
                -- segment_to is exclusive: the last held instant is just before it
                coalesce(s.segment_to - interval 1 microsecond, greatest(a.as_of_time, s.segment_from))
            ) as date
        ) as last_day
    from segments as s
    cross join settings as c
    cross join as_of as a
),

days as (
    select
        b.*,
        cast(d.day as date) as licence_day,
        local_instant(b.reporting_timezone, cast(cast(d.day as date) + 1 as timestamp))
            as day_end
    from bounds as b,
        unnest(generate_series(
            cast(b.first_day as timestamp), cast(b.last_day as timestamp), interval 1 day
        )) as d(day)
    where b.last_day >= b.first_day
),

-- the segment of the unit's last held instant of the day
last_of_day as (
    select *
    from days
    qualify row_number() over (
        partition by licence_unit_id, licence_day order by segment_from desc
    ) = 1
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
        h.status as status_at_day_end,
        y.segment_to is null or y.segment_to >= y.day_end as is_held_at_day_end
    from last_of_day as y
    asof left join history as h
        on y.device_id = h.device_id and y.day_end > h.valid_from
)

select * from final
