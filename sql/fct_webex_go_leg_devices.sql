-- grain: one row per Webex Go leg record (Sub client type MOBILE_NETWORK)
-- key: report_id
-- Every Webex Go leg with the Webex Go device it was made from: the user's devices (by user
-- UUID; by the phone number only when the user UUID finds none, the device that had that
-- number at the call); of the user's devices, the one with the leg's number when it was
-- held and activated at the call (a user with two phones); else, of several, the one that existed at the call wins (one activated by
-- then before one still pending), then the latest to take the key before it, then the first
-- to take it after it (fct_webex_go_device_choices works the choice out from the devices,
-- so each leg is read once and joined, never aggregated). Columns: report_id, correlation_id, leg_id,
-- local_call_id, remote_call_id, network_call_id (a report pairs a record lacking one with
-- its leg's other record, as fct_calls does), start_time, call_date (the leg's UTC day partition: a join on it lets DuckDB skip the files
-- of other days), duration_seconds and the device's device_id, device_matched_by,
-- deployment, licence_type, subscription_id, device_location_name, device_department_id,
-- device_provisioned_at, device_deleted_at (the deployment, licence type, subscription,
-- location and department in effect at the leg's start: int_device_attribute_history),
-- is_device_ambiguous (the device was chosen among several of the user's devices that
-- rank alike at the call, two Online phones and a leg whose number is neither's or both's: the
-- latest provisioned is taken; NULL without a device).
-- fct_webex_go_calls adds the leg's other columns and the device's status and activation
-- code then; the licence reports need only the device, so they read this narrow view.
-- Only the columns the match and the licence reports need, so the calls are read narrowly.
with go_legs as (
    select
        report_id,
        correlation_id,
        leg_id,
        local_call_id,
        remote_call_id,
        network_call_id,
        start_time,
        call_date,
        duration_seconds,
        user_uuid,
        user_number
    from fct_call_legs
    where is_webex_go
),

devices as (
    select
        device_id,
        provisioned_at,
        deleted_at
    from dim_webex_go_devices
),

-- the device's deployment, subscription, location and department in effect at the leg's
-- start (a leg before the device's first observation: its first ones), as the licence
-- reports attribute the leg, not the device's latest
attributes as (
    select
        device_id,
        valid_from,
        deployment,
        licence_type,
        subscription_id,
        location_name,
        department_id
    from int_device_attribute_history
),

-- The choice of the leg's key whose interval holds its start (the first interval for a leg
-- without a start time). The choice views are joined without a shared CTE, so the scan of
-- the legs sits under joins only and a join on call_date above can prune its files.
legs_with_device as (
    select
        go_legs.report_id,
        go_legs.correlation_id,
        go_legs.leg_id,
        go_legs.local_call_id,
        go_legs.remote_call_id,
        go_legs.network_call_id,
        go_legs.start_time,
        go_legs.call_date,
        go_legs.duration_seconds,
        devices.device_id,
        coalesce(b.matched_by, u.matched_by, p.matched_by) as device_matched_by,
        attributes.deployment,
        attributes.licence_type,
        attributes.subscription_id,
        attributes.location_name as device_location_name,
        attributes.department_id as device_department_id,
        devices.provisioned_at as device_provisioned_at,
        devices.deleted_at as device_deleted_at,
        -- the choice the leg took was among devices the rule cannot tell apart
        -- (fct_webex_go_device_choices.is_ambiguous): NULL without a device
        case
            when b.device_id is not null then b.is_ambiguous
            when u.device_id is not null then u.is_ambiguous
            else p.is_ambiguous
        end as is_device_ambiguous
    from go_legs
    -- the user's device that had the leg's number, while held and activated: of one
    -- user's two phones, the one the leg came from
    left join fct_webex_go_device_choices as b
        on 'b:' || lower(go_legs.user_uuid) || '|' || number_key(go_legs.user_number)
        = b.match_key
        and b.is_active
        and go_legs.start_time >= b.valid_from
        and (b.valid_to is null or go_legs.start_time < b.valid_to)
    left join fct_webex_go_device_choices as u
        on 'u:' || lower(go_legs.user_uuid) = u.match_key
        and (u.valid_from is null or go_legs.start_time >= u.valid_from)
        and (
            u.valid_to is null
            or go_legs.start_time < u.valid_to
            or (go_legs.start_time is null and u.valid_from is null)
        )
    left join fct_webex_go_device_choices as p
        on 'p:' || number_key(go_legs.user_number) = p.match_key
        and (p.valid_from is null or go_legs.start_time >= p.valid_from)
        and (
            p.valid_to is null
            or go_legs.start_time < p.valid_to
            or (go_legs.start_time is null and p.valid_from is null)
        )
    left join devices on coalesce(b.device_id, u.device_id, p.device_id) = devices.device_id
    asof left join attributes
        on devices.device_id = attributes.device_id
        and greatest(go_legs.start_time, devices.provisioned_at) >= attributes.valid_from
)

select * from legs_with_device
