-- grain: one row per month, subscription and licence type
-- key: month, subscription_id, licence_type
-- Entitlement (licences bought) against consumption (licences held) per month, with the
-- variance and the cost of licences held without use. Definitions in sql/README.md.
-- Months are those with licence data; a subscription shows in a month when it had an
-- entitlement in force or held licences then.
with usage as (
    select
        month,
        licence_type,
        subscription_id,
        cast(sum(licences_held_month_end) as bigint) as consumed_month_end,
        cast(sum(licence_days) as bigint) as licence_days,
        cast(sum(devices_used) as bigint) as devices_used,
        cast(sum(devices_idle) as bigint) as devices_idle,
        cast(sum(devices_never_activated) as bigint) as devices_never_activated
    from rpt_licence_usage_monthly
    group by all
),

-- Peak over the month of the subscription's daily count (the group peaks of the usage
-- report cannot be added up: their peaks fall on different days).
daily as (
    select
        cast(date_trunc('month', licence_day) as date) as month,
        licence_type,
        coalesce(subscription_id, '(none)') as subscription_id,
        licence_day,
        count(distinct licence_unit_id) as held
    from fct_licence_days
    group by all
),

peaks as (
    select month, licence_type, subscription_id, max(held) as consumed_peak
    from daily
    group by all
),

months as (
    select distinct month, least(last_day(month), (select max(licence_day) from fct_licence_days))
        as month_end_day
    from daily
),

-- Entitlement rows in force on the month's last (data) day; valid_to is inclusive.
entitled as (
    select
        months.month,
        e.licence_type,
        e.subscription_id,
        cast(sum(e.units) as bigint) as entitled_units,
        max(e.unit_price) as unit_price,
        max(e.currency) as currency
    from months
    inner join stg_entitlements as e
        on e.valid_from <= months.month_end_day
        and coalesce(e.valid_to, months.month_end_day) >= months.month_end_day
    group by all
),

keys as (
    select month, licence_type, subscription_id from entitled
    union
    select month, licence_type, subscription_id from peaks
),

joined as (
    select
        keys.month,
        keys.subscription_id,
        keys.licence_type,
        entitled.entitled_units is not null as has_entitlement,
        coalesce(entitled.entitled_units, 0) as entitled_units,
        coalesce(peaks.consumed_peak, 0) as consumed_peak,
        coalesce(usage.consumed_month_end, 0) as consumed_month_end,
        coalesce(usage.licence_days, 0) as licence_days,
        coalesce(usage.devices_used, 0) as licences_used,
        coalesce(usage.devices_idle, 0) + coalesce(usage.devices_never_activated, 0)
            as idle_licences,
        entitled.unit_price,
        entitled.currency
    from keys
    left join entitled
        on keys.month = entitled.month
        and keys.licence_type = entitled.licence_type
        and keys.subscription_id = entitled.subscription_id
    left join peaks
        on keys.month = peaks.month
        and keys.licence_type = peaks.licence_type
        and keys.subscription_id = peaks.subscription_id
    left join usage
        on keys.month = usage.month
        and keys.licence_type = usage.licence_type
        and keys.subscription_id = usage.subscription_id
),

final as (
    select
        month,
        subscription_id,
        licence_type,
        entitled_units,
        consumed_peak,
        consumed_month_end,
        licence_days,
        entitled_units - consumed_peak as variance_units,
        licences_used,
        idle_licences,
        unit_price,
        currency,
        round(idle_licences * unit_price, 2) as idle_cost,
        case
            when not has_entitlement then 'no_entitlement'
            when consumed_peak > entitled_units then 'over'
            when consumed_peak < entitled_units then 'under'
            else 'matched'
        end as status
    from joined
)

select * from final
