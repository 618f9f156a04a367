-- grain: one row per month, licence type, subscription, location and department
-- key: month, licence_type, subscription_id, location_name, department_id
-- The licence unit figures of rpt_licence_usage_monthly, without its device and call figures:
-- rpt_licence_reconciliation adds them up per subscription without computing the per-leg
-- minutes and calls it does not show. The usage report computes the same figures by the same
-- SQL in its own pass (its Webex Go legs' devices are read once for units, devices and
-- minutes: a view shared by both read them twice where fct_webex_go_leg_devices is not kept,
-- in the in-memory databases of --as-of and a month's close); tests/warehouse/test_views.py
-- pins the two to the same rows. A group exists in a month when one of its units was held at
-- some instant of the month (fct_licence_unit_months), in a month of fct_licence_months.
-- Definitions in sql/README.md (rpt_licence_usage_monthly): licences_held_peak,
-- licences_held_month_end, licence_days, licences_used, licences_idle and
-- licences_never_activated (both NULL unless the month has call data for every day),
-- covered_days and call_coverage.
with unit_pieces as (
    select * from fct_licence_unit_months
),

device_pieces as (
    select * from fct_licence_device_months
),

used_units as (
    select distinct month, licence_unit_id from fct_licence_leg_hits
),

licence_days as (
    select
        cast(date_trunc('month', licence_day) as date) as month,
        coalesce(licence_type, '(none)') as licence_type,
        coalesce(subscription_id, '(none)') as subscription_id,
        coalesce(location_name, '(none)') as location_name,
        coalesce(department_id, '(none)') as department_id,
        count(*) as licence_days
    from fct_licence_days
    group by all
),

-- Units held at each instant: +1 when a piece starts, -1 when it ends (an end sorts before a
-- start at the same instant: intervals are half-open); the peak is the running maximum.
unit_moves as (
    select month, licence_type, subscription_id, location_name, department_id,
        piece_from as moved_at, 1 as delta
    from unit_pieces
    union all
    select month, licence_type, subscription_id, location_name, department_id,
        piece_to as moved_at, -1 as delta
    from unit_pieces
),

running as (
    select
        *,
        sum(delta) over (
            partition by month, licence_type, subscription_id, location_name, department_id
            order by moved_at, delta
            rows between unbounded preceding and current row
        ) as held
    from unit_moves
),

held as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        cast(max(held) as bigint) as licences_held_peak
    from running
    group by all
),

-- held when the month ended (for the month of the data horizon: still held at the horizon)
month_end as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(distinct licence_unit_id) as licences_held_month_end
    from unit_pieces
    where piece_to = month_end_at
    group by all
),

-- a licence unit counts once, in the group of its last held instant of the month; it is
-- activated when one of its devices was activated while holding it, used when one of its
-- devices made a Webex Go leg while holding it. Used, idle and never activated partition
-- the units held (used first: a unit used without a recorded activation is used, not
-- never activated, or the reconciliation would charge it as idle); the usage report counts
-- devices the same way.
unit_month as (
    select
        month,
        licence_unit_id,
        arg_max(licence_type, piece_from) as licence_type,
        arg_max(subscription_id, piece_from) as subscription_id,
        arg_max(location_name, piece_from) as location_name,
        arg_max(department_id, piece_from) as department_id
    from unit_pieces
    group by month, licence_unit_id
),

-- by the device's pieces on the unit: a Mobile device whose number changed in the month held
-- two units, and its activation counts for each one it held after it
unit_activated as (
    select
        month,
        licence_unit_id,
        coalesce(bool_or(first_activated_at < piece_to), false) as is_activated
    from device_pieces
    group by month, licence_unit_id
),

unit_flags as (
    select
        um.*,
        coalesce(ua.is_activated, false) as is_activated,
        uu.licence_unit_id is not null as is_used
    from unit_month as um
    left join unit_activated as ua
        on um.month = ua.month and um.licence_unit_id = ua.licence_unit_id
    left join used_units as uu
        on um.month = uu.month and um.licence_unit_id = uu.licence_unit_id
),

unit_counts as (
    select
        month,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        count(*) filter (where is_used) as licences_used,
        count(*) filter (where is_activated and not is_used) as licences_idle,
        count(*) filter (where not is_activated and not is_used) as licences_never_activated
    from unit_flags
    group by all
),

-- days of the month with call data, up to the day of the device data horizon
month_coverage as (
    select * from fct_licence_months
),

final as (
    select
        held.month,
        held.licence_type,
        held.subscription_id,
        held.location_name,
        held.department_id,
        held.licences_held_peak,
        cast(coalesce(me.licences_held_month_end, 0) as bigint) as licences_held_month_end,
        cast(coalesce(ld.licence_days, 0) as bigint) as licence_days,
        cast(coalesce(uc.licences_used, 0) as bigint) as licences_used,
        cast(
            case when mc.call_coverage = 'full' then coalesce(uc.licences_idle, 0) end
            as bigint
        ) as licences_idle,
        -- not used needs call data for every day, as idle does: a phone used on a day
        -- without it, its activation unrecorded, is used, not never activated
        cast(
            case when mc.call_coverage = 'full' then coalesce(uc.licences_never_activated, 0) end
            as bigint
        ) as licences_never_activated,
        mc.covered_days,
        mc.call_coverage
    from held
    inner join month_coverage as mc using (month)
    left join month_end as me
        using (month, licence_type, subscription_id, location_name, department_id)
    left join licence_days as ld
        using (month, licence_type, subscription_id, location_name, department_id)
    left join unit_counts as uc
        using (month, licence_type, subscription_id, location_name, department_id)
)

select * from final
