-- grain: one row per licence unit segment and month it overlaps
-- key: licence_unit_id, piece_from
-- Each segment of fct_licence_segments cut at the month boundaries (instants of the reporting
-- time zone), half-open [piece_from, piece_to); an open segment runs to the month of the
-- device data horizon. Missing licence type, subscription, location or department show as
-- '(none)'; month_end_at is the instant the month ends (piece_to equals it when the unit was
-- still held then). Counting the pieces of a month that cover an instant gives the units held then: the
-- peaks and month-end counts of rpt_licence_usage_monthly and fct_licence_unit_usage (per
-- group; the month-end counts of rpt_licence_reconciliation), the
-- peaks of rpt_licence_reconciliation (per subscription) and of rpt_licence_peak_monthly
-- (the org) read it.
with settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

final as (
    select
        s.licence_unit_id,
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
        ) as piece_to,
        month_end_at(c.reporting_timezone, m.month_start) as month_end_at
    from fct_licence_segments as s
    cross join settings as c
    cross join as_of as a,
        unnest(segment_months(
            c.reporting_timezone, s.segment_from, s.segment_to, a.as_of_time
        )) as m(month_start)
)

select * from final
