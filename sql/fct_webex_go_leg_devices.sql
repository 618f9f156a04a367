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
-- UUID finds none (a CDR without User UUID, or a device list without it). The devices are
-- few, so each leg first learns from them how it matches (by user or by number) and how many
-- candidates it has; then one equality join on that key.
device_keys as (
    select 'u:' || user_uuid as match_key, 'user_uuid' as matched_by, *
    from devices
    where user_uuid is not null
    union all
    select 'p:' || phone_number as match_key, 'phone_number' as matched_by, *
    from devices
    where phone_number is not null
),

key_counts as (
    select match_key, count(*) as candidate_count from device_keys group by match_key
),

leg_keys as (
    select
        go_legs.*,
        coalesce(u.match_key, p.match_key) as match_key,
        coalesce(u.candidate_count, p.candidate_count) as candidate_count
    from go_legs
    left join key_counts as u on 'u:' || go_legs.user_uuid = u.match_key
    left join key_counts as p on 'p:' || go_legs.user_number = p.match_key
),

-- a key with one device: that device (most legs; a join with a tiny build side)
single as (
    select k.match_key, k.device_id, k.matched_by
    from device_keys as k
    inner join key_counts as c on k.match_key = c.match_key
    where c.candidate_count = 1
),

-- When a user had several devices (deleted and re-added), the one that existed at the call
-- wins, then the latest provisioned before it, then the first one provisioned after it
-- (an aggregate over a sort key, only for the legs with several candidates).
several as (
    select
        l.report_id,
        arg_min(
            {device_id: k.device_id, matched_by: k.matched_by},
            {
                bucket: case
                    when
                        k.provisioned_at <= l.start_time
                        and coalesce(k.deleted_at > l.start_time, true)
                        then 0
                    when k.provisioned_at <= l.start_time then 1
                    else 2
                end,
                nearest: case
                    when k.provisioned_at <= l.start_time then -epoch_ms(k.provisioned_at)
                    else epoch_ms(k.provisioned_at)
                end,
                device_id: k.device_id
            }
        ) as pick
    from leg_keys as l
    inner join device_keys as k on l.match_key = k.match_key
    where l.candidate_count > 1
    group by l.report_id
),

chosen as (
    select
        l.report_id,
        l.correlation_id,
        l.leg_id,
        l.start_time,
        l.duration_seconds,
        coalesce(s.device_id, m.pick.device_id) as device_id,
        coalesce(s.matched_by, m.pick.matched_by) as matched_by
    from leg_keys as l
    left join single as s on l.match_key = s.match_key
    left join several as m on l.report_id = m.report_id
),

legs_with_device as (
    select
        chosen.report_id,
        chosen.correlation_id,
        chosen.leg_id,
        chosen.start_time,
        chosen.duration_seconds,
        devices.device_id,
        chosen.matched_by as device_matched_by,
        devices.deployment,
        devices.licence_type,
        devices.subscription_id,
        devices.location_name as device_location_name,
        devices.department_id as device_department_id,
        devices.provisioned_at as device_provisioned_at,
        devices.deleted_at as device_deleted_at
    from chosen
    left join devices on chosen.device_id = devices.device_id
)

select * from legs_with_device
