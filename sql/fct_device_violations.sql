-- grain: one row per Webex Go lifecycle rule violation found in the device inputs
-- key: violation_id
-- Violations are kept and flagged, never dropped (rpt_webex_go_anomalies unions them with the
-- call-side anomalies). violation_type:
-- * CODE_ISSUED_NOT_PENDING: an activation code issued while the device was ONLINE, OFFLINE
--   or DELETED (fct_activation_codes.is_anomaly);
-- * UNKNOWN_DEVICE_EVENT: an event for a device that no snapshot lists and no PROVISIONED
--   event introduces;
-- * OUT_OF_ORDER_EVENT: an event older than an event of the same device loaded before it
--   (load order = load_seq, then line);
-- * EVENT_AFTER_DELETE: any event of a device after its DELETED event;
-- * DELETED_DEVICE_REAPPEARS: a snapshot that lists a device after its deletion;
-- * DEVICE_UNLISTED: a snapshot of the org that no longer lists a device an earlier snapshot
--   listed, without a DELETED event (its licence ends there: int_device_presence).
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

codes as (
    select * from fct_activation_codes
),

devices as (
    select * from dim_webex_go_devices
),

presence as (
    select * from int_device_presence
),

code_violations as (
    select
        'CODE_ISSUED_NOT_PENDING' as violation_type,
        c.device_id,
        c.issued_at as observed_at,
        c.event_id,
        'activation code #' || c.code_seq || ' issued while the device was '
            || c.issued_while_status as detail
    from codes as c
    where c.is_anomaly
),

unknown_device_events as (
    select
        'UNKNOWN_DEVICE_EVENT' as violation_type,
        e.device_id,
        e.event_time as observed_at,
        e.event_id,
        e.event_type || ' event for a device no snapshot lists and no PROVISIONED event names'
            as detail
    from events as e
    inner join devices as d using (device_id)
    where not d.is_known_device
),

load_ordered as (
    select
        e.*,
        max(e.event_time) over (
            partition by e.device_id order by e.load_seq, e.source_row
            rows between unbounded preceding and 1 preceding
        ) as latest_loaded_before
    from events as e
),

out_of_order_events as (
    select
        'OUT_OF_ORDER_EVENT' as violation_type,
        device_id,
        event_time as observed_at,
        event_id,
        event_type || ' event loaded after an event of the same device dated '
            || iso_utc(latest_loaded_before) as detail
    from load_ordered
    where event_time < latest_loaded_before
),

events_after_delete as (
    select
        'EVENT_AFTER_DELETE' as violation_type,
        e.device_id,
        e.event_time as observed_at,
        e.event_id,
        e.event_type || ' event after the device was deleted at '
            || iso_utc(d.deleted_at) as detail
    from events as e
    inner join devices as d using (device_id)
    where e.event_time > d.deleted_at
),

reappearances as (
    select
        'DELETED_DEVICE_REAPPEARS' as violation_type,
        s.device_id,
        s.snapshot_time as observed_at,
        cast(null as varchar) as event_id,
        'snapshot lists the device (status ' || coalesce(s.status, 'unknown')
            || ') after its deletion at '
            || iso_utc(d.deleted_at) as detail
    from snapshots as s
    inner join devices as d using (device_id)
    where s.snapshot_time > d.deleted_at
),

unlisted as (
    select
        'DEVICE_UNLISTED' as violation_type,
        device_id,
        present_to as observed_at,
        cast(null as varchar) as event_id,
        'the snapshot of ' || strftime(timezone('UTC', present_to), '%Y-%m-%dT%H:%M:%SZ')
            || ' does not list the device and no DELETED event says why: its licence ends there'
            as detail
    from presence
    where end_reason = 'UNLISTED'
),

unioned as (
    select * from code_violations
    union all
    select * from unknown_device_events
    union all
    select * from out_of_order_events
    union all
    select * from events_after_delete
    union all
    select * from reappearances
    union all
    select * from unlisted
),

final as (
    select
        md5(
            u.violation_type || '|' || u.device_id || '|' || coalesce(u.event_id, '') || '|'
            || utc_ms_key(u.observed_at)
        ) as violation_id,
        u.violation_type,
        u.device_id,
        d.org_uuid,
        d.user_uuid,
        u.observed_at,
        u.event_id,
        u.detail
    from unioned as u
    left join devices as d using (device_id)
)

select * from final
