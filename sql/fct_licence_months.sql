-- grain: one row per month of the licence reports
-- key: month
-- Every calendar month of cfg_settings.reporting_timezone from the first month a licence unit
-- was held up to the month of the device data horizon (int_device_as_of), also a month in
-- which no unit was held: its entitlements are still bought, and unassigned. With the month's
-- call data (int_call_coverage): covered_days, the days covered up to the horizon's day, and
-- call_coverage, full when every day of the month is covered, none when none is, else
-- partial. rpt_licence_usage_monthly, fct_licence_unit_usage (so rpt_licence_reconciliation)
-- and rpt_licence_reconciliation read their months here.
with settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

pieces as (
    select * from fct_licence_unit_months
),

coverage as (
    select * from int_call_coverage
),

bounds as (
    select min(month) as first_month, max(month) as last_piece_month from pieces
),

horizon as (
    select
        cast(date_trunc('month', timezone(c.reporting_timezone, a.as_of_time)) as date)
            as horizon_month
    from settings as c
    cross join as_of as a
),

months as (
    select cast(m.month_start as date) as month
    from bounds as b
    cross join horizon as h,
        unnest(generate_series(
            cast(b.first_month as timestamp),
            cast(greatest(b.last_piece_month, h.horizon_month) as timestamp),
            interval 1 month
        )) as m(month_start)
    where b.first_month is not null
),

counted as (
    select
        m.month,
        cast(count(cv.covered_day) as bigint) as covered_days,
        datediff('day', m.month, cast(m.month + interval 1 month as date)) as days_in_month
    from months as m
    cross join settings as c
    cross join as_of as a
    left join coverage as cv
        on cv.covered_day >= m.month
        and cv.covered_day < cast(m.month + interval 1 month as date)
        and cv.covered_day <= cast(timezone(c.reporting_timezone, a.as_of_time) as date)
    group by m.month
),

final as (
    select
        month,
        covered_days,
        days_in_month,
        case
            when covered_days = days_in_month then 'full'
            when covered_days = 0 then 'none'
            else 'partial'
        end as call_coverage
    from counted
)

select * from final
