-- grain: one row per Webex Go device (every device_id seen in a snapshot or an event)
-- key: device_id
-- Attributes are the latest non-empty value of the snapshots, else of the events (snapshots
-- are the device list; events only carry what the admin action touched). provisioned_at is the
-- first observation (event or snapshot); first_activated_at the first ACTIVATED event or ONLINE
-- or OFFLINE status (Offline: the user disabled a line that was on the phone); last_seen_at the last observation of any kind. is_known_device is false for a device
-- that only appears in events other than PROVISIONED (no snapshot lists it): it holds no
-- licence and its events are reported in fct_device_violations. licence_unit_id is what
-- holds a licence: the device (BYOD) or the Webex Mobile number (Mobile Operator). A
-- phone_number written in national form is read in E.164 by its location's country
-- (int_location_dialling), when the org directory gives it.
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

history as (
    select * from fct_device_status_history
),

snapshot_attributes as (
    select
        device_id,
        arg_max(org_uuid, snapshot_time) filter (where org_uuid is not null) as org_uuid,
        arg_max(user_uuid, snapshot_time) filter (where user_uuid is not null) as user_uuid,
        arg_max(user_email, snapshot_time) filter (where user_email is not null) as user_email,
        arg_max(deployment, snapshot_time) filter (where deployment is not null) as deployment,
        arg_max(phone_number, snapshot_time) filter (where phone_number is not null)
            as phone_number,
        arg_max(extension, snapshot_time) filter (where extension is not null) as extension,
        arg_max(location_name, snapshot_time) filter (where location_name is not null)
            as location_name,
        arg_max(department_id, snapshot_time) filter (where department_id is not null)
            as department_id,
        arg_max(subscription_id, snapshot_time) filter (where subscription_id is not null)
            as subscription_id,
        arg_max(model_type, snapshot_time) filter (where model_type is not null) as model_type,
        min(snapshot_time) as first_snapshot_at,
        max(snapshot_time) as last_snapshot_at,
        count(*) as snapshot_count
    from snapshots
    group by device_id
),

event_attributes as (
    select
        device_id,
        arg_max(org_uuid, event_order) filter (where org_uuid is not null) as org_uuid,
        arg_max(user_uuid, event_order) filter (where user_uuid is not null) as user_uuid,
        arg_max(deployment, event_order) filter (where deployment is not null) as deployment,
        arg_max(phone_number, event_order) filter (where phone_number is not null)
            as phone_number,
        arg_max(subscription_id, event_order) filter (where subscription_id is not null)
            as subscription_id,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        min(event_time) filter (where event_type = 'ACTIVATED') as first_activated_event_at,
        min(event_time) filter (where event_type = 'DELETED') as deleted_at,
        count(*) filter (where event_type = 'PROVISIONED') as provisioned_events,
        count(*) filter (where event_type = 'LOST_STOLEN') as lost_stolen_count
    from (
        -- of two events of one instant, the later delivered gives the value (load_seq,
        -- then source_row), as in int_device_attribute_history
        select *, {t: event_time, l: load_seq, r: source_row} as event_order from events
    ) as e
    group by device_id
),

status_facts as (
    select
        device_id,
        any_value(status) filter (where is_current) as current_status,
        -- Online, or Offline: the user can only disable a line that is on the phone, so a
        -- device seen Offline was activated by then (activated and disabled between two
        -- snapshots, or before its first)
        min(valid_from) filter (where status in ('ONLINE', 'OFFLINE')) as first_online_at
    from history
    group by device_id
),

devices as (
    select device_id from snapshot_attributes
    union
    select device_id from event_attributes
),

joined as (
    select
        d.device_id,
        coalesce(s.org_uuid, e.org_uuid) as org_uuid,
        coalesce(s.user_uuid, e.user_uuid) as user_uuid,
        s.user_email,
        e164_number(
            coalesce(s.phone_number, e.phone_number),
            l.country_code,
            l.national_prefix,
            l.international_prefix
        ) as phone_number,
        s.extension,
        coalesce(s.deployment, e.deployment) as deployment,
        coalesce(s.subscription_id, e.subscription_id) as subscription_id,
        s.location_name,
        s.department_id,
        s.model_type,
        f.current_status,
        least(s.first_snapshot_at, e.first_event_at) as provisioned_at,
        least(e.first_activated_event_at, f.first_online_at) as first_activated_at,
        e.deleted_at,
        coalesce(e.lost_stolen_count, 0) as lost_stolen_count,
        greatest(s.last_snapshot_at, e.last_event_at) as last_seen_at,
        s.last_snapshot_at,
        coalesce(s.snapshot_count, 0) > 0 or coalesce(e.provisioned_events, 0) > 0
            as is_known_device
    from devices as d
    left join snapshot_attributes as s using (device_id)
    left join event_attributes as e using (device_id)
    left join status_facts as f using (device_id)
    -- a number written in national form, in E.164 by its location's country
    left join int_location_dialling as l on s.location_name = l.location_name
),

final as (
    select
        device_id,
        org_uuid,
        user_uuid,
        user_email,
        phone_number,
        extension,
        deployment,
        case deployment
            when 'BYOD' then 'Webex Go (Bring Your Own Device)'
            when 'MOBILE_OPERATOR' then 'Webex Go Mobile (Mobile Operator)'
        end as licence_type,
        case
            when deployment = 'MOBILE_OPERATOR' then coalesce(phone_number, device_id)
            else device_id
        end as licence_unit_id,
        subscription_id,
        location_name,
        department_id,
        model_type,
        current_status,
        provisioned_at,
        first_activated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        lost_stolen_count,
        last_seen_at,
        last_snapshot_at,
        is_known_device
    from joined
)

select * from final
