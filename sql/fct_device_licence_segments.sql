-- grain: one row per Webex Go device and interval during which it held its licence with the same attributes
-- key: device_id, segment_from
-- The device's licence intervals (int_device_presence: from provisioning until deletion or
-- until a snapshot no longer lists it) cut where its attributes changed
-- (int_device_attribute_history), so every instant carries the subscription, location and
-- department in effect then. Half-open [segment_from, segment_to), segment_to NULL = still
-- held. licence_unit_id is what the licence counts: the device (BYOD) or the Webex Mobile
-- number (Mobile Operator) in effect during the segment, so a number moved from one device
-- to another is one unit, and a device whose number changed held the old number until then
-- (the device's current unit when the history has no number).
with presence as (
    select * from int_device_presence
),

attributes as (
    select * from int_device_attribute_history
),

devices as (
    select device_id, licence_unit_id, provisioned_at, first_activated_at
    from dim_webex_go_devices
),

final as (
    select
        p.device_id,
        case
            when a.deployment = 'MOBILE_OPERATOR' then coalesce(a.phone_number, d.licence_unit_id)
            else p.device_id
        end as licence_unit_id,
        greatest(p.present_from, a.valid_from) as segment_from,
        case
            when p.present_to is null then a.valid_to
            when a.valid_to is null then p.present_to
            else least(p.present_to, a.valid_to)
        end as segment_to,
        case
            when a.valid_to is null or a.valid_to >= coalesce(p.present_to, 'infinity'::timestamptz)
                then p.end_reason
        end as end_reason,
        a.deployment,
        a.licence_type,
        a.subscription_id,
        a.location_name,
        a.department_id,
        a.user_uuid,
        a.phone_number,
        d.provisioned_at,
        d.first_activated_at
    from presence as p
    inner join attributes as a
        on p.device_id = a.device_id
        and a.valid_from < coalesce(p.present_to, 'infinity'::timestamptz)
        and coalesce(a.valid_to, 'infinity'::timestamptz) > p.present_from
    inner join devices as d on p.device_id = d.device_id
)

select * from final
