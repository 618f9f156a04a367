-- grain: one row per licence unit and interval during which one device held it with the same attributes
-- key: licence_unit_id, segment_from
-- What each licence unit (a BYOD device, or a Webex Mobile number) was at every instant: held
-- or not, by which device, in which subscription, location and department. Built from
-- fct_device_licence_segments: where devices overlap on one Mobile number (a replacement
-- provisioned before the old device is deleted), the unit counts once and takes the latest
-- provisioned device's attributes. Half-open [segment_from, segment_to), segment_to NULL =
-- still held. Counting the rows that cover an instant gives the units held at that instant.
with device_segments as (
    select * from fct_device_licence_segments
),

bounds as (
    select licence_unit_id, segment_from as bound_at from device_segments
    union
    select licence_unit_id, segment_to as bound_at from device_segments
    where segment_to is not null
),

elementary as (
    select
        licence_unit_id,
        bound_at as piece_from,
        lead(bound_at) over (partition by licence_unit_id order by bound_at) as piece_to
    from bounds
),

-- each elementary interval takes the device segment covering it that was provisioned last
covered as (
    select
        e.licence_unit_id,
        e.piece_from,
        e.piece_to,
        s.device_id,
        s.deployment,
        s.licence_type,
        s.subscription_id,
        s.location_name,
        s.department_id,
        s.user_uuid,
        s.phone_number
    from elementary as e
    inner join device_segments as s
        on e.licence_unit_id = s.licence_unit_id
        and s.segment_from <= e.piece_from
        and (s.segment_to is null or s.segment_to >= coalesce(e.piece_to, 'infinity'::timestamptz))
    qualify row_number() over (
        partition by e.licence_unit_id, e.piece_from
        order by s.provisioned_at desc, s.device_id desc
    ) = 1
),

-- merge consecutive pieces of the same device and attributes
changes as (
    select
        *,
        case
            when
                lag(piece_to) over w is distinct from piece_from
                or lag(device_id) over w is distinct from device_id
                or lag(licence_type) over w is distinct from licence_type
                or lag(subscription_id) over w is distinct from subscription_id
                or lag(location_name) over w is distinct from location_name
                or lag(department_id) over w is distinct from department_id
                or lag(user_uuid) over w is distinct from user_uuid
                or lag(phone_number) over w is distinct from phone_number
                then 1
            else 0
        end as is_change
    from covered
    window w as (partition by licence_unit_id order by piece_from)
),

numbered as (
    select
        *,
        sum(is_change) over (
            partition by licence_unit_id order by piece_from
            rows between unbounded preceding and current row
        ) as segment_seq
    from changes
),

final as (
    select
        licence_unit_id,
        min(piece_from) as segment_from,
        case when bool_or(piece_to is null) then null else max(piece_to) end as segment_to,
        any_value(device_id) as device_id,
        any_value(deployment) as deployment,
        any_value(licence_type) as licence_type,
        any_value(subscription_id) as subscription_id,
        any_value(location_name) as location_name,
        any_value(department_id) as department_id,
        any_value(user_uuid) as user_uuid,
        any_value(phone_number) as phone_number
    from numbered
    group by licence_unit_id, segment_seq
)

select * from final
