-- grain: one row per licence unit and holding interval
-- key: licence_unit_id, held_from
-- A Webex Go licence is held from provisioning (the device's first event or snapshot) until
-- the device is deleted or a snapshot of its org no longer lists it (held_to half-open, NULL =
-- still held; end_reason DELETED or UNLISTED). Lost/Stolen keeps the licence. BYOD: one
-- licence per device (licence_unit_id = device_id). Mobile Operator: one licence per Webex
-- Mobile number (licence_unit_id = phone_number) in effect
-- (fct_device_licence_segments), so devices that follow each other or overlap on one number
-- merge into one holding, and a device whose number changed holds each number for its own
-- time, as the licence reports count them. device_id and the attributes are those of the
-- holding's last instant (of several devices holding it then, the latest provisioned).
-- Devices no snapshot lists and no PROVISIONED event names (is_known_device false) hold
-- nothing (int_device_presence).
with segments as (
    select * from fct_device_licence_segments
),

device_holdings as (
    select
        licence_unit_id,
        device_id,
        phone_number,
        deployment,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        user_uuid,
        provisioned_at,
        segment_from as held_from,
        segment_to as held_to,
        end_reason
    from segments
),

ordered as (
    select
        *,
        max(coalesce(held_to, 'infinity'::timestamptz)) over (
            partition by licence_unit_id order by held_from, device_id
            rows between unbounded preceding and 1 preceding
        ) as earlier_held_to
    from device_holdings
),

islands as (
    select
        *,
        sum(case when earlier_held_to is null or held_from > earlier_held_to then 1 else 0 end)
            over (
                partition by licence_unit_id order by held_from, device_id
                rows between unbounded preceding and current row
            ) as holding_seq
    from ordered
),

final as (
    select
        licence_unit_id,
        min(held_from) as held_from,
        case when bool_or(held_to is null) then null else max(held_to) end as held_to,
        case when bool_or(held_to is null) then null else arg_max(end_reason, held_to) end
            as end_reason,
        -- the attributes of the holding's last instant, all from that one row (a
        -- per-column arg_max skips NULLs and could mix devices): of the devices holding the
        -- unit then, the latest provisioned (ties: the greater device_id), as
        -- fct_licence_segments names it
        arg_max(
            {
                device_id: device_id,
                phone_number: phone_number,
                deployment: deployment,
                licence_type: licence_type,
                subscription_id: subscription_id,
                location_name: location_name,
                department_id: department_id,
                user_uuid: user_uuid
            },
            (coalesce(held_to, 'infinity'::timestamptz), provisioned_at, device_id)
        ) as latest,
        count(distinct device_id) as device_count
    from islands
    group by licence_unit_id, holding_seq
)

select
    licence_unit_id,
    held_from,
    held_to,
    end_reason,
    latest.device_id,
    latest.phone_number,
    latest.deployment,
    latest.licence_type,
    latest.subscription_id,
    latest.location_name,
    latest.department_id,
    latest.user_uuid,
    device_count
from final
