-- grain: one row per Webex Go device and reclaim reason
-- key: device_id, reason
-- Devices holding a licence without giving value, as of the device data horizon
-- (int_device_as_of, so the answer never depends on the wall clock):
--   never_activated_code_expired: never activated nor used, and its latest activation code
--     expired unused (cfg_settings.code_expiry_days sets the expiry when the source gives
--     none); a device with no code on record (snapshots only) counts from its provisioning:
--     no code for it can have been issued earlier, so by then any has expired;
--   idle: activated (or used: a Webex Go leg with no activation on record), but no Webex
--     Go call for cfg_settings.idle_days days (nor a replacement phone activated after a
--     Lost/Stolen);
--   lost_stolen_not_reactivated: reported Lost/Stolen and not activated since (no ACTIVATED
--     event, and not seen Online).
-- Deleted devices, and devices the latest snapshots no longer list, hold no licence and never
-- show. The user, number, licence type, subscription, location and department are those in
-- effect at the horizon (int_device_attribute_history), as the licence reports hold the
-- device then: an event after the last snapshot moves it. Names come from the org directory
-- (stg_org_directory): department_name is the department id when the directory does not list it.
with devices as (
    select * from dim_webex_go_devices
    where deleted_at is null
        and device_id in (select device_id from int_device_presence where present_to is null)
),

as_of as (
    select as_of_time from int_device_as_of
),

current_attributes as (
    select * from int_device_attribute_history
    where valid_to is null
),

cfg as (
    select * from cfg_settings
),

latest_code as (
    select
        device_id,
        arg_max(issued_at, code_seq) as issued_at,
        arg_max(expires_at, code_seq) as expires_at,
        arg_max(consumed_at, code_seq) as consumed_at
    from fct_activation_codes
    group by device_id
),

-- each Webex Go leg's device as fct_webex_go_calls matches it (a kept table: the legs of
-- every day are not read again), whatever month a session's report scope names
last_call as (
    select
        device_id,
        max(start_time) as last_webex_go_call_at,
        -- a leg from before the device existed (matched to the device its user took later)
        -- says nothing of this device's line
        max(start_time) filter (where start_time >= device_provisioned_at) as last_used_at
    from fct_webex_go_leg_devices
    where device_id is not null
    group by device_id
),

lost_stolen as (
    select device_id, max(event_time) as lost_stolen_at
    from stg_device_events
    where event_type = 'LOST_STOLEN'
    group by device_id
),

activated as (
    select device_id, max(event_time) as last_activated_at
    from stg_device_events
    where event_type = 'ACTIVATED'
    group by device_id
),

-- the device seen Online: the user activates a replacement phone on the phone, so the
-- snapshots may show it Online again with no ACTIVATED event on record
online as (
    select device_id, max(valid_from) as last_online_from
    from fct_device_status_history
    where status = 'ONLINE'
    group by device_id
),

facts as (
    select
        d.*,
        as_of.as_of_time,
        cfg.idle_days,
        cfg.code_expiry_days,
        c.issued_at as code_issued_at,
        -- days of 24 h (86 400 s), as fct_activation_codes counts them: whatever the session
        -- time zone (a DuckDB shell where the clock changes in between), the same answer
        coalesce(c.expires_at, c.issued_at + to_seconds(86400 * cfg.code_expiry_days))
            as code_expires_at,
        -- when a device never activated had no usable code left: its code's expiry, or
        -- without a code on record, as long after its provisioning
        coalesce(
            c.expires_at,
            coalesce(c.issued_at, d.provisioned_at) + to_seconds(86400 * cfg.code_expiry_days)
        ) as code_deadline,
        c.consumed_at as code_consumed_at,
        lc.last_webex_go_call_at,
        -- a Webex Go leg from the device shows its line was on a phone: a device used with
        -- no activation on record (snapshots of the Devices page, which shows Status
        -- unavailable) is activated here, as the licence reports count it used, and is
        -- judged idle from its last leg, never offered as never activated
        d.first_activated_at is not null or lc.last_used_at is not null as is_activated,
        -- last activity: the last Webex Go leg since it was first seen, or the first
        -- activation when it never called since, or a replacement phone activated after a
        -- Lost/Stolen (an ACTIVATED event, or seen Online), whichever came last: counted
        -- from the lost phone's last call, a line set up again days ago was long idle
        greatest(
            coalesce(lc.last_used_at, d.first_activated_at),
            case when a.last_activated_at > ls.lost_stolen_at then a.last_activated_at end,
            case when o.last_online_from > ls.lost_stolen_at then o.last_online_from end
        ) as last_activity_at,
        ls.lost_stolen_at,
        -- an activation at the Lost/Stolen's instant is not after it (the later lifecycle
        -- step wins a tie, as in fct_device_status_history)
        ls.lost_stolen_at is not null
        and coalesce(a.last_activated_at <= ls.lost_stolen_at, true)
        and coalesce(o.last_online_from <= ls.lost_stolen_at, true)
            as is_lost_not_reactivated
    from devices as d
    cross join as_of
    cross join cfg
    left join latest_code as c on d.device_id = c.device_id
    left join last_call as lc on d.device_id = lc.device_id
    left join lost_stolen as ls on d.device_id = ls.device_id
    left join activated as a on d.device_id = a.device_id
    left join online as o on d.device_id = o.device_id
),

never_activated as (
    select
        *,
        'never_activated_code_expired' as reason,
        code_deadline as since
    from facts
    where
        not is_activated
        and code_consumed_at is null
        and code_deadline <= as_of_time
),

idle as (
    select
        *,
        'idle' as reason,
        last_activity_at as since
    from facts
    where
        is_activated
        and last_activity_at <= as_of_time - to_seconds(86400 * idle_days)
        and not is_lost_not_reactivated
),

lost as (
    select
        *,
        'lost_stolen_not_reactivated' as reason,
        lost_stolen_at as since
    from facts
    where is_lost_not_reactivated
),

departments as (
    select * from dim_departments
),

locations as (
    select * from dim_locations
),

candidates as (
    select * from never_activated
    union all
    select * from idle
    union all
    select * from lost
),

final as (
    select
        c.device_id,
        c.reason,
        c.since,
        -- whole days elapsed (86 400 s each), not midnights crossed
        cast(floor((epoch(c.as_of_time) - epoch(c.since)) / 86400) as bigint) as days_since,
        c.as_of_time,
        a.user_uuid,
        c.user_email,
        a.phone_number,
        a.deployment,
        a.licence_type,
        a.subscription_id,
        a.location_name,
        loc.site,
        loc.country,
        a.department_id,
        coalesce(dep.department_name, a.department_id) as department_name,
        dep.cost_centre,
        c.current_status,
        c.provisioned_at,
        c.first_activated_at,
        c.last_webex_go_call_at,
        c.code_issued_at,
        c.code_expires_at
    from candidates as c
    left join current_attributes as a on c.device_id = a.device_id
    left join departments as dep on a.department_id = dep.department_id
    left join locations as loc on a.location_name = loc.location_name
)

select * from final
