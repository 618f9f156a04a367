-- grain: one row per status observation of a Webex Go device (a snapshot row or a lifecycle event)
-- key: observation_id
-- Snapshots and events on one timeline. Each event type implies the status it leaves the
-- device in (PROVISIONED, NUMBER_ACTIVATION_PENDING and LOST_STOLEN -> PENDING_ACTIVATION,
-- ACTIVATED -> ONLINE, STATUS_CHANGED -> status_after, DELETED -> DELETED);
-- ACTIVATION_CODE_ISSUED, NUMBER_ACTIVATION_ERROR, LICENSE_ASSIGNED and LICENSE_RELEASED change
-- no status and are not observations. A snapshot without a status counts as STATUS_UNAVAILABLE
-- (no information). `precedence` orders observations of the same instant: the later lifecycle
-- step wins, and an event wins over a snapshot; of two events of one step (ACTIVATED and
-- STATUS_CHANGED, or two STATUS_CHANGED), the later delivered (load_seq, then source_row: a
-- file lists events in the order they happened).
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

snapshot_observations as (
    select
        'snapshot:' || device_id || '@'
            || utc_ms_key(snapshot_time) as observation_id,
        device_id,
        org_uuid,
        user_uuid,
        deployment,
        snapshot_time as observed_at,
        coalesce(status, 'STATUS_UNAVAILABLE') as status,
        'snapshot' as source,
        cast(null as varchar) as event_id,
        cast(null as varchar) as event_type,
        0 as precedence,
        load_seq,
        source_row
    from snapshots
),

event_observations as (
    select
        'event:' || event_id as observation_id,
        device_id,
        org_uuid,
        user_uuid,
        deployment,
        event_time as observed_at,
        case event_type
            when 'PROVISIONED' then 'PENDING_ACTIVATION'
            when 'NUMBER_ACTIVATION_PENDING' then 'PENDING_ACTIVATION'
            when 'ACTIVATED' then 'ONLINE'
            when 'LOST_STOLEN' then 'PENDING_ACTIVATION'
            when 'DELETED' then 'DELETED'
            else coalesce(status_after, 'STATUS_UNAVAILABLE')
        end as status,
        'event' as source,
        event_id,
        event_type,
        case event_type
            when 'PROVISIONED' then 1
            when 'DELETED' then 4
            when 'LOST_STOLEN' then 3
            else 2
        end as precedence,
        load_seq,
        source_row
    from events
    -- events that change no status: a code issued, a number's activation error, a licence
    -- assigned or released (the licence views count holdings from provisioning to deletion)
    where event_type not in (
        'ACTIVATION_CODE_ISSUED', 'NUMBER_ACTIVATION_ERROR', 'LICENSE_ASSIGNED', 'LICENSE_RELEASED'
    )
),

final as (
    select * from snapshot_observations
    union all
    select * from event_observations
)

select * from final
