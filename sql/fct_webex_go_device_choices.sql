-- grain: one row per device match key and interval of the same chosen device
-- key: match_key, interval_seq
-- Which Webex Go device a Webex Go leg is made from, by the leg's key and start time, worked
-- out from the devices alone so that fct_webex_go_leg_devices reads each leg once. A leg's
-- keys are 'u:' || its User UUID in lower case and 'p:' || the digits of its User number
-- (the device's the same way); the phone number counts only
-- when the user UUID finds no device (a CDR without User UUID, or a device list without it).
-- Of a key's devices, a leg started at instant t takes the one that existed at t, one already
-- activated before one still pending (a phone places Webex Go calls only once activated),
-- then the latest provisioned before t, then the first one provisioned after t. Intervals are
-- half-open [valid_from, valid_to), numbered by interval_seq from 1; valid_from NULL = from
-- the beginning, valid_to NULL = no end; matched_by is user_uuid or phone_number.
with devices as (
    select
        device_id,
        user_uuid,
        phone_number,
        deployment,
        licence_type,
        subscription_id,
        location_name,
        department_id,
        provisioned_at,
        first_activated_at,
        deleted_at
    from dim_webex_go_devices
),

-- the keys a leg can match: its user's UUID (in any case: a UUID's hex digits are), or its
-- phone number's digits (a device list edited in a spreadsheet loses the leading + of an
-- E.164 number, and one typed by hand has blanks and dashes: +1 408-555-0100)
device_keys as (
    select 'u:' || lower(user_uuid) as match_key, 'user_uuid' as matched_by, *
    from devices
    where user_uuid is not null
    union all
    select 'p:' || number_key(phone_number) as match_key, 'phone_number' as matched_by, *
    from devices
    where number_key(phone_number) is not null
),

-- Of a key's devices, a leg started at instant t takes the one that existed at t (activated
-- by t before pending), then the latest provisioned before t, then the first one provisioned
-- after t (ties: the smaller device_id). That choice changes only at the devices'
-- provisioning, first activation and deletion instants,
-- so it is worked out here from the few devices, once per key and interval between those
-- instants. The first interval (valid_from NULL: from the beginning) is also the choice for
-- a leg without a start time, which compares as before every device.
choice_points as (
    select match_key, cast(null as timestamptz) as point_at from device_keys
    union
    select match_key, provisioned_at as point_at from device_keys
    where provisioned_at is not null
    union
    select match_key, deleted_at as point_at from device_keys
    where deleted_at is not null
    union
    select match_key, first_activated_at as point_at from device_keys
    where first_activated_at is not null
),

choices as (
    select
        c.match_key,
        c.point_at,
        arg_min(
            {chosen_device_id: k.device_id, chosen_matched_by: k.matched_by},
            {
                bucket: case
                    when
                        k.provisioned_at <= c.point_at
                        and coalesce(k.deleted_at > c.point_at, true)
                        and k.first_activated_at <= c.point_at
                        then 0
                    when
                        k.provisioned_at <= c.point_at
                        and coalesce(k.deleted_at > c.point_at, true)
                        then 1
                    when k.provisioned_at <= c.point_at then 2
                    else 3
                end,
                nearest: case
                    when k.provisioned_at <= c.point_at then -epoch_ms(k.provisioned_at)
                    else epoch_ms(k.provisioned_at)
                end,
                device_id: k.device_id
            }
        ) as pick
    from choice_points as c
    inner join device_keys as k on c.match_key = k.match_key
    group by c.match_key, c.point_at
),

final as (
    select
        match_key,
        row_number() over (partition by match_key order by point_at nulls first) as interval_seq,
        point_at as valid_from,
        lead(point_at) over (partition by match_key order by point_at nulls first) as valid_to,
        pick.chosen_device_id as device_id,
        pick.chosen_matched_by as matched_by
    from choices
)

select * from final
