-- grain: one row per month
-- key: month
-- The org's Webex Go licences held at one instant, per month (finance headline): the most
-- licence units of every subscription and licence type held together at one instant of the
-- month. The per-group peaks of
-- rpt_licence_usage_monthly and rpt_licence_reconciliation fall at different instants and
-- count a unit moved between groups in both, so adding them overstates what Cisco can count.
-- Months, instants and the data horizon as in the reconciliation (sql/README.md).
with pieces as (
    select * from fct_licence_unit_months
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

peaks as (
    select month, max(held) as held
    from running
    group by month
),

-- every month of the licence reports: 0 in a month without any unit held
final as (
    select m.month, cast(coalesce(p.held, 0) as bigint) as licences_held_peak
    from fct_licence_months as m
    left join peaks as p on m.month = p.month
)

select * from final
