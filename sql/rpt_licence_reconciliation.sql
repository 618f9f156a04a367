-- grain: one row per month, subscription and licence type
-- key: month, subscription_id, licence_type
-- Entitlement (licences bought) against consumption (licence units held) per month, with the
-- variance, the cost of units held without use and of units bought but not assigned.
-- Definitions in sql/README.md. Months are those of fct_licence_months (from the first
-- licence held to the device data horizon, also one without any unit held); a subscription
-- shows in a month when it had an entitlement in force or held licences then. Idle figures need call
-- data for every day of the month (call_coverage 'full'); otherwise they are NULL, and the
-- status is no_call_data when the month has no call data at all (unless more was held than
-- bought: over needs no call).
-- Subscription ids match without regard to case: an entitlement typed `SUB-1` or `sub-1` in a
-- finance sheet is the subscription the device data calls `Sub-1` (Cisco gives no two
-- subscriptions ids that differ in case only), shown in the device data's spelling (the
-- entitlements' when no device names it).
with spellings as (
    select
        folded_id,
        -- the device data's spelling first, then the entitlements'
        coalesce(min(spelling) filter (where from_devices), min(spelling)) as subscription_id
    from (
        select distinct ascii_upper(subscription_id) as folded_id, subscription_id as spelling,
            true as from_devices
        from fct_licence_unit_months
        union all
        select distinct ascii_upper(subscription_id) as folded_id, subscription_id as spelling,
            false as from_devices
        from stg_entitlements
    ) as ids
    group by folded_id
),

-- the entitlement rows that can be in force (int_entitlements_in_force: one row per key
-- without regard to the id's case, the later load winning; no row of 0 units, none whose
-- range ends before it starts), in the subscription's spelling
entitlements as (
    select
        sp.subscription_id, e.licence_type, e.units, e.valid_from, e.valid_to, e.unit_price,
        e.currency
    from int_entitlements_in_force as e
    inner join spellings as sp on e.subscription_key = sp.folded_id
),

unit_pieces as (
    select p.month, p.licence_type, sp.subscription_id, p.piece_from, p.piece_to
    from fct_licence_unit_months as p
    inner join spellings as sp on ascii_upper(p.subscription_id) = sp.folded_id
),

usage as (
    select
        month,
        licence_type,
        sp.subscription_id,
        cast(sum(licences_held_month_end) as bigint) as consumed_month_end,
        cast(sum(licence_days) as bigint) as licence_days,
        cast(sum(licences_used) as bigint) as licences_used,
        cast(sum(licences_idle) + sum(licences_never_activated) as bigint) as idle_licences,
        any_value(covered_days) as covered_days,
        any_value(call_coverage) as call_coverage
    from fct_licence_unit_usage as u
    inner join spellings as sp on ascii_upper(u.subscription_id) = sp.folded_id
    group by all
),

settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

-- Units held at each instant per subscription (the group peaks of the usage report cannot
-- be added up: they fall at different instants).
pieces as (
    select * from unit_pieces
),

moves as (
    select month, licence_type, subscription_id, piece_from as moved_at, 1 as delta
    from pieces
    union all
    select month, licence_type, subscription_id, piece_to as moved_at, -1 as delta
    from pieces
),

running as (
    select
        *,
        sum(delta) over (
            partition by month, licence_type, subscription_id
            order by moved_at, delta
            rows between unbounded preceding and current row
        ) as held
    from moves
),

peaks as (
    select month, licence_type, subscription_id, cast(max(held) as bigint) as consumed_peak
    from running
    group by all
),

-- every month of the licence data, also one in which no unit was held (its entitlements are
-- bought and unassigned all the same); its last (data) day and the instant that day ends
months as (
    select
        m.month,
        least(last_day(m.month), cast(timezone(c.reporting_timezone, a.as_of_time) as date))
            as month_end_day,
        local_instant(
            c.reporting_timezone,
            cast(
                least(
                    last_day(m.month), cast(timezone(c.reporting_timezone, a.as_of_time) as date)
                ) + interval 1 day as timestamp
            )
        ) as window_end,
        m.covered_days,
        m.call_coverage
    from fct_licence_months as m
    cross join settings as c
    cross join as_of as a
),

-- Entitlement rows in force on some day of the month up to its last (data) day, with the
-- days of the month they cover; valid_to is inclusive (rows of 0 units and rows whose
-- valid_to falls before their valid_from are never in force: int_entitlements_in_force).
month_rows as (
    select
        months.month,
        months.month_end_day,
        e.licence_type,
        e.subscription_id,
        e.units,
        e.unit_price,
        e.currency,
        greatest(e.valid_from, months.month) as from_day,
        least(coalesce(e.valid_to, months.month_end_day), months.month_end_day) as to_day
    from months
    inner join entitlements as e
        on e.valid_from <= months.month_end_day
        and coalesce(e.valid_to, months.month_end_day) >= months.month
),

-- The day the month's entitlement is read on: its last (data) day, or, for a subscription
-- whose rows all ended earlier in the month (it moved to another subscription), the last
-- day one of them was in force.
entitlement_days as (
    select month, licence_type, subscription_id, max(to_day) as entitlement_day
    from month_rows
    group by all
),

-- The rows in force on that day add their units and take the highest price; rows in
-- different currencies have no single price or currency: both stay NULL (so do the costs)
-- and the status says mixed_currency, rather than a cost in a currency that is wrong for
-- some of the units. A row in force without a unit_price has no known cost: the month has
-- no price either, rather than its units charged at the price of the row beside it.
entitled as (
    select
        r.month,
        r.licence_type,
        r.subscription_id,
        cast(sum(r.units) as bigint) as entitled_units,
        -- bought on the month's last day (0 when the rows ended earlier): unassigned units
        cast(sum(r.units) filter (where d.entitlement_day = r.month_end_day) as bigint)
            as entitled_month_end,
        case
            when count(distinct coalesce(r.currency, '')) <= 1
                and count(r.unit_price) = count(*)
                then max(r.unit_price)
        end as unit_price,
        case when count(distinct coalesce(r.currency, '')) <= 1 then max(r.currency) end
            as currency,
        -- a row without a currency is not in the others' currency either
        count(distinct coalesce(r.currency, '')) > 1 as has_mixed_currency
    from month_rows as r
    inner join entitlement_days as d
        on r.month = d.month
        and r.licence_type = d.licence_type
        and r.subscription_id = d.subscription_id
        and r.from_day <= d.entitlement_day
        and r.to_day >= d.entitlement_day
    group by all
),

-- Over at one instant: units held then against the units in force that day (an
-- entitlement changed in the month is compared with the holdings of its own days, not its
-- month-end units with the month's peak). Both step at instants: a unit's piece starts and
-- ends, a row's first day starts and the day after its last starts (local midnights). The
-- month is cut at the end of its last (data) day.
steps as (
    select p.month, p.licence_type, p.subscription_id, p.piece_from as step_at,
        0 as in_force_delta, 1 as held_delta
    from pieces as p
    inner join months on p.month = months.month
    where p.piece_from < months.window_end
    union all
    select p.month, p.licence_type, p.subscription_id, least(p.piece_to, months.window_end),
        0, -1
    from pieces as p
    inner join months on p.month = months.month
    where p.piece_from < months.window_end
    union all
    select r.month, r.licence_type, r.subscription_id,
        local_instant(c.reporting_timezone, cast(r.from_day as timestamp)), r.units, 0
    from month_rows as r
    cross join settings as c
    union all
    select r.month, r.licence_type, r.subscription_id,
        local_instant(c.reporting_timezone, cast(r.to_day + interval 1 day as timestamp)),
        -r.units, 0
    from month_rows as r
    cross join settings as c
),

step_totals as (
    select month, licence_type, subscription_id, step_at,
        sum(in_force_delta) as in_force_delta, sum(held_delta) as held_delta
    from steps
    group by all
),

levels as (
    select
        month,
        licence_type,
        subscription_id,
        sum(in_force_delta) over (
            partition by month, licence_type, subscription_id
            order by step_at
            rows between unbounded preceding and current row
        ) as in_force,
        sum(held_delta) over (
            partition by month, licence_type, subscription_id
            order by step_at
            rows between unbounded preceding and current row
        ) as held
    from step_totals
),

overs as (
    select month, licence_type, subscription_id, bool_or(held > in_force) as was_over
    from levels
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
        coalesce(entitled.has_mixed_currency, false) as has_mixed_currency,
        coalesce(entitled.entitled_units, 0) as entitled_units,
        coalesce(entitled.entitled_month_end, 0) as entitled_month_end,
        coalesce(overs.was_over, false) as was_over,
        coalesce(peaks.consumed_peak, 0) as consumed_peak,
        coalesce(usage.consumed_month_end, 0) as consumed_month_end,
        coalesce(usage.licence_days, 0) as licence_days,
        coalesce(usage.licences_used, 0) as licences_used,
        case when months.call_coverage = 'full' then coalesce(usage.idle_licences, 0) end
            as idle_licences,
        entitled.unit_price,
        entitled.currency,
        months.covered_days,
        months.call_coverage
    from keys
    inner join months on keys.month = months.month
    left join entitled
        on keys.month = entitled.month
        and keys.licence_type = entitled.licence_type
        and keys.subscription_id = entitled.subscription_id
    left join peaks
        on keys.month = peaks.month
        and keys.licence_type = peaks.licence_type
        and keys.subscription_id = peaks.subscription_id
    left join overs
        on keys.month = overs.month
        and keys.licence_type = overs.licence_type
        and keys.subscription_id = overs.subscription_id
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
        -- bought as the month ends (0 for rows that ended earlier in it): these add up
        -- across subscriptions, where entitled_units counts a moved purchase twice
        entitled_month_end,
        consumed_peak,
        consumed_month_end,
        licence_days,
        entitled_units - consumed_peak as variance_units,
        licences_used,
        idle_licences,
        unit_price,
        currency,
        cents(idle_licences, unit_price) as idle_cost,
        case
            when has_mixed_currency then 'mixed_currency'
            -- more held than bought needs no call to be known
            when has_entitlement and was_over then 'over'
            when call_coverage = 'none' then 'no_call_data'
            when not has_entitlement then 'no_entitlement'
            when consumed_peak < entitled_units then 'under'
            else 'matched'
        end as status,
        cast(greatest(entitled_month_end - consumed_month_end, 0) as bigint)
            as unassigned_units,
        cents(greatest(entitled_month_end - consumed_month_end, 0), unit_price)
            as unassigned_cost,
        covered_days,
        call_coverage
    from joined
)

select * from final
