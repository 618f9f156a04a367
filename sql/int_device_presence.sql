-- grain: one row per Webex Go device and interval during which it holds its licence
-- key: device_id, present_from
-- A device holds its licence from its first observation (event or snapshot) until it is
-- deleted (the DELETED event) or until a snapshot of its org no longer lists it. Each snapshot
-- time is a complete listing of the org's devices (Cisco counts the listed devices), so a
-- device that a snapshot listed and a later snapshot of its org does not list, without a
-- DELETED event, stops holding at that later snapshot (end_reason UNLISTED); a snapshot that
-- lists it again starts a new interval. A device no snapshot has listed yet (known from its
-- PROVISIONED event only) is not judged by the listings until one lists it. DELETED is
-- final. Devices no snapshot lists and no PROVISIONED event names hold nothing. Intervals are
-- half-open [present_from, present_to), present_to NULL = still held.
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

devices as (
    select
        device_id,
        arg_max(org_uuid, observed_at) as org_uuid,
        min(observed_at) as first_seen_at,
        min(observed_at) filter (where event_type is null) as first_listed_at,
        min(observed_at) filter (where event_type = 'DELETED') as deleted_at,
        bool_or(event_type = 'PROVISIONED' or event_type is null) as is_known_device
    from (
        select device_id, org_uuid, snapshot_time as observed_at, cast(null as varchar) as event_type
        from snapshots
        union all
        select device_id, org_uuid, event_time as observed_at, event_type
        from events
    ) as o
    group by device_id
),

org_listings as (
    select distinct org_uuid, snapshot_time from snapshots
),

listed as (
    select distinct device_id, snapshot_time from snapshots
),

-- every listing of the device's org after the first one naming it (and before its deletion),
-- and whether that listing names it; its first appearance counts as listed
points as (
    select d.device_id, d.first_seen_at as point_at, true as is_listed
    from devices as d
    where d.is_known_device
    union all
    select
        d.device_id,
        o.snapshot_time as point_at,
        l.device_id is not null as is_listed
    from devices as d
    inner join org_listings as o
        on d.org_uuid = o.org_uuid
        and o.snapshot_time > d.first_listed_at
        and (d.deleted_at is null or o.snapshot_time < d.deleted_at)
    left join listed as l
        on d.device_id = l.device_id and o.snapshot_time = l.snapshot_time
    where d.is_known_device
),

changes as (
    select
        *,
        case
            when lag(is_listed) over w is distinct from is_listed then 1 else 0
        end as is_change
    from points
    window w as (partition by device_id order by point_at)
),

runs as (
    select
        device_id,
        point_at,
        is_listed,
        lead(point_at) over (partition by device_id order by point_at) as next_change_at
    from changes
    where is_change = 1
),

final as (
    select
        r.device_id,
        d.org_uuid,
        r.point_at as present_from,
        coalesce(r.next_change_at, d.deleted_at) as present_to,
        case
            when r.next_change_at is not null then 'UNLISTED'
            when d.deleted_at is not null then 'DELETED'
        end as end_reason
    from runs as r
    inner join devices as d on r.device_id = d.device_id
    where r.is_listed
        and (d.deleted_at is null or r.point_at < d.deleted_at)
)

select * from final
