-- grain: one row per Webex Go leg record (Sub client type MOBILE_NETWORK)
-- key: report_id
-- Every Webex Go leg with the Webex Go device it was made from: the user's devices (by user
-- UUID; by the phone number only when the user UUID finds none); of several, the one that
-- existed at the call wins, then the latest provisioned before it, then the first provisioned
-- after it. Columns: report_id, correlation_id, leg_id, start_time, duration_seconds and the
-- device's device_id, device_matched_by, deployment, licence_type, subscription_id,
-- device_location_name, device_department_id, device_provisioned_at, device_deleted_at.
-- fct_webex_go_calls adds the leg's other columns and the device's status and activation
-- code then; the licence reports need only the device, so they read this narrow view.
-- Only the columns the match and the licence reports need, so the calls are read narrowly.
with go_legs as (
    select
        report_id,
        correlation_id,
        leg_id,
        start_time,
        duration_seconds,
        user_uuid,
        user_number
    from fct_call_legs
    where is_webex_go
),

devices as (
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
        deleted_at
    from dim_webex_go_devices
),

-- Candidate devices of each leg: the user's devices; the phone number only when the user
-- UUID finds none (a CDR without User UUID, or a device list without it): a match by
-- number ranks after every match by user (two equality joins, no anti-join, so the legs are
-- read once).
candidates as (
    select
        go_legs.report_id,
        go_legs.start_time as leg_start_time,
        devices.*,
        'user_uuid' as matched_by,
        0 as match_rank
    from go_legs
    inner join devices on go_legs.user_uuid = devices.user_uuid
    union all
    select
        go_legs.report_id,
        go_legs.start_time as leg_start_time,
        devices.*,
        'phone_number' as matched_by,
        1 as match_rank
    from go_legs
    inner join devices on go_legs.user_number = devices.phone_number
),

-- When a user had several devices (deleted and re-added), the one that existed at the call
-- wins, then the latest provisioned before it, then the first one provisioned after it
-- (an aggregate over a sort key rather than a window over wide rows: much cheaper).
chosen as (
    select
        report_id,
        arg_min(
            {device_id: device_id, matched_by: matched_by},
            {
                match_rank: match_rank,
                bucket: case
                    when
                        provisioned_at <= leg_start_time
                        and coalesce(deleted_at > leg_start_time, true)
                        then 0
                    when provisioned_at <= leg_start_time then 1
                    else 2
                end,
                nearest: case
                    when provisioned_at <= leg_start_time then -epoch_ms(provisioned_at)
                    else epoch_ms(provisioned_at)
                end,
                device_id: device_id
            }
        ) as pick
    from candidates
    group by report_id
),

legs_with_device as (
    select
        go_legs.report_id,
        go_legs.correlation_id,
        go_legs.leg_id,
        go_legs.start_time,
        go_legs.duration_seconds,
        devices.device_id,
        chosen.pick.matched_by as device_matched_by,
        devices.deployment,
        devices.licence_type,
        devices.subscription_id,
        devices.location_name as device_location_name,
        devices.department_id as device_department_id,
        devices.provisioned_at as device_provisioned_at,
        devices.deleted_at as device_deleted_at
    from go_legs
    left join chosen on go_legs.report_id = chosen.report_id
    left join devices on chosen.pick.device_id = devices.device_id
)

select * from legs_with_device
