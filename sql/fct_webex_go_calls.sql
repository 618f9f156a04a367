-- grain: one row per Webex Go leg record (Sub client type MOBILE_NETWORK)
-- key: report_id
-- Every Webex Go leg joined as of its start time to its user's Webex Go device (by user UUID,
-- falling back to the phone number), the device's status then (the last status interval
-- starting at or before the call: a gap between snapshots carries the last known status),
-- its activation code state then, and the lifecycle anomaly the leg reveals, if any.
-- is_device_ambiguous: the user had several devices ranking alike at the call (two Online
-- phones, the leg's number neither's or both's) and the latest provisioned was taken
-- (fct_webex_go_leg_devices).
with go_legs as (
    select
        report_id,
        correlation_id,
        start_time,
        report_date,
        report_month,
        direction,
        answered,
        duration_seconds,
        user_uuid,
        user_number,
        location_name,
        department_id,
        leg_id
    from fct_call_legs
    -- a report of one month (cdr report --month) reads the month's days only
    where is_webex_go and in_report_days(call_date)
),

-- the device each leg was made from (the matching rules are in that view)
legs_with_device as (
    select
        go_legs.*,
        d.device_id,
        d.device_matched_by,
        d.deployment,
        d.licence_type,
        d.subscription_id,
        d.device_location_name,
        d.device_department_id,
        d.device_provisioned_at,
        d.device_deleted_at,
        d.is_device_ambiguous
    from go_legs
    inner join fct_webex_go_leg_devices as d
        on go_legs.report_id = d.report_id and in_report_days(d.call_date)
),

history as (
    select device_id, status, valid_from, valid_to from fct_device_status_history
),

codes as (
    select
        device_id,
        code_seq,
        issued_at,
        expires_at,
        superseded_at,
        consumed_at
    from fct_activation_codes
),

lost_stolen as (
    select device_id, event_time as lost_stolen_at
    from stg_device_events
    where event_type = 'LOST_STOLEN'
),

activations as (
    select device_id, event_time as activated_at
    from stg_device_events
    where event_type = 'ACTIVATED'
),

-- the starts of the device's Online intervals: the user activates a replacement phone on the
-- phone, so the snapshots may show it Online again with no ACTIVATED event on record
onlines as (
    select device_id, valid_from as online_from
    from fct_device_status_history
    where status = 'ONLINE'
),

presence as (
    select device_id, present_from, present_to, end_reason from int_device_presence
),

-- Each leg as of its start time: the device's last status interval, its last activation
-- code (and that code's state then), its last Lost/Stolen and ACTIVATED events, and its last
-- holding begun at or before the call (ended by an unlisting before the call: the device was
-- unlisted then, so the leg is not use of its licence).
legs_as_of_call as (
    select
        l.*,
        h.status as device_status,
        h.valid_from as status_valid_from,
        h.valid_to as status_valid_to,
        c.code_seq,
        c.issued_at as code_issued_at,
        c.expires_at as code_expires_at,
        case
            when c.issued_at is null then 'none'
            when c.consumed_at <= l.start_time then 'consumed'
            when c.superseded_at <= l.start_time then 'superseded'
            when c.expires_at <= l.start_time then 'expired'
            else 'outstanding'
        end as code_state,
        ls.lost_stolen_at as last_lost_stolen_at,
        a.activated_at as last_activated_at,
        case
            when p.end_reason = 'UNLISTED' and p.present_to <= l.start_time then p.present_to
        end as device_unlisted_at,
        -- a Lost/Stolen device whose replacement was not activated before the call (no
        -- ACTIVATED event after it, and not seen Online since): the call can only come from
        -- the old phone. An activation at the instant of the Lost/Stolen is not after it (at
        -- one instant the later lifecycle step wins: LOST_STOLEN after ACTIVATED).
        ls.lost_stolen_at is not null
        and (a.activated_at is null or a.activated_at <= ls.lost_stolen_at)
        and (o.online_from is null or o.online_from <= ls.lost_stolen_at)
            as is_after_lost_stolen
    from legs_with_device as l
    asof left join history as h
        on l.device_id = h.device_id
        and l.start_time >= h.valid_from
    asof left join codes as c
        on l.device_id = c.device_id
        and l.start_time >= c.issued_at
    asof left join lost_stolen as ls
        on l.device_id = ls.device_id
        and l.start_time >= ls.lost_stolen_at
    asof left join activations as a
        on l.device_id = a.device_id
        and l.start_time >= a.activated_at
    asof left join onlines as o
        on l.device_id = o.device_id
        and l.start_time >= o.online_from
    asof left join presence as p
        on l.device_id = p.device_id
        and l.start_time >= p.present_from
),

final as (
    select
        *,
        case
            when device_id is null then 'no_device'
            when device_provisioned_at > start_time then 'before_provisioning'
            when device_deleted_at <= start_time then 'device_deleted'
            when device_unlisted_at is not null then 'device_unlisted'
            when is_after_lost_stolen then 'old_device_after_lost_stolen'
            when device_status = 'PENDING_ACTIVATION' then 'device_pending'
        end as anomaly_type
    from legs_as_of_call
)

select * from final
