-- grain: one row per month
-- key: month
-- The org's Webex Go licences held at one instant, per month (finance headline): the most
-- licence units of every subscription and licence type held together at one instant of the
-- month. The per-group peaks of
-- rpt_licence_usage_monthly and rpt_licence_reconciliation fall at different instants and
-- count a unit moved between groups in both, so adding them overstates what Cisco can count.
-- Months, instants and the data horizon as in the reconciliation (sql/README.md).
with settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

-- each unit segment cut at the month boundaries (instants of the reporting time zone); an
-- open segment runs to the month of the data horizon
pieces as (
    select
        s.licence_unit_id,
        cast(m.month_start as date) as month,
        greatest(s.segment_from, timezone(c.reporting_timezone, m.month_start)) as piece_from,
        least(
            coalesce(s.segment_to, 'infinity'::timestamptz),
            timezone(c.reporting_timezone, m.month_start + interval 1 month)
        ) as piece_to
    from fct_licence_segments as s
    cross join settings as c
    cross join as_of as a,
        unnest(generate_series(
            date_trunc('month', timezone(c.reporting_timezone, s.segment_from)),
            date_trunc('month', timezone(
                c.reporting_timezone,
                coalesce(
                    s.segment_to - interval 1 microsecond, greatest(a.as_of_time, s.segment_from)
                )
            )),
            interval 1 month
        )) as m(month_start)
),

-- +1 when a piece starts, -1 when it ends; an end sorts before a start at the same instant
-- (half-open holdings), so a unit moved to another subscription is held once at the move
moves as (
    select month, piece_from as moved_at, 1 as delta from pieces
    union all
    select month, piece_to as moved_at, -1 as delta from pieces
),

running as (
    select
        month,
        sum(delta) over (
            partition by month
            order by moved_at, delta
            rows between unbounded preceding and current row
        ) as held
    from moves
),

final as (
    select month, cast(max(held) as bigint) as licences_held_peak
    from running
    group by month
)

select * from final
