-- grain: one row per device licence segment and month it overlaps
-- key: device_id, piece_from
-- Each segment of fct_device_licence_segments cut at the month boundaries (instants of the
-- reporting time zone, the macros segment_months, month_start_at and month_end_at), half-open
-- [piece_from, piece_to), as fct_licence_unit_months cuts the units' segments; an open
-- segment runs to the month of the device data horizon. Missing licence type, subscription,
-- location or department show as '(none)' (the device_pieces of rpt_licence_usage_monthly).
-- fct_licence_unit_usage counts activations over it, and fct_licence_leg_hits finds the piece
-- each Webex Go leg started in.
with settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

device_segments as (
    select * from fct_device_licence_segments
),

final as (
    select
        s.device_id,
        s.licence_unit_id,
        s.first_activated_at,
        coalesce(s.licence_type, '(none)') as licence_type,
        coalesce(s.subscription_id, '(none)') as subscription_id,
        coalesce(s.location_name, '(none)') as location_name,
        coalesce(s.department_id, '(none)') as department_id,
        cast(m.month_start as date) as month,
        greatest(s.segment_from, month_start_at(c.reporting_timezone, m.month_start))
            as piece_from,
        least(
            coalesce(s.segment_to, 'infinity'::timestamptz),
            month_end_at(c.reporting_timezone, m.month_start)
        ) as piece_to
    from device_segments as s
    cross join settings as c
    cross join as_of as a,
        unnest(segment_months(
            c.reporting_timezone, s.segment_from, s.segment_to, a.as_of_time
        )) as m(month_start)
)

select * from final
