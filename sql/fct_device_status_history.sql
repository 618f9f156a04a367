-- grain: one row per Webex Go device and status interval
-- key: device_id, valid_from
-- Status history (SCD2) built from snapshots plus events; intervals are half-open
-- [valid_from, valid_to), valid_to NULL = still open. Rules (docs/inputs-devices.md):
-- * a status holds from the observation that set it until the next observation that changes
--   it; a change first seen in a snapshot takes effect at that snapshot unless an event dates
--   it earlier; a gap between snapshots never creates an interval of its own;
-- * STATUS_UNAVAILABLE is no information: it never overwrites a known status (it shows only
--   before the first known status);
-- * DELETED is final: the last interval has status DELETED from the deletion onwards; later
--   observations never change it. A snapshot that still lists the device after its deletion
--   splits the DELETED interval there and flags the rest is_deleted_reappearance.
with observations as (
    select * from int_device_observations
),

deletions as (
    select device_id, min(observed_at) as deleted_at
    from observations
    where status = 'DELETED'
    group by device_id
),

first_known as (
    select device_id, min(observed_at) as first_known_at
    from observations
    where status <> 'STATUS_UNAVAILABLE'
    group by device_id
),

after_deletion as (
    select
        o.*,
        d.deleted_at is not null and o.observed_at >= d.deleted_at as is_after_deletion,
        d.deleted_at is not null and o.observed_at > d.deleted_at and o.source = 'snapshot'
            as is_reappearance
    from observations as o
    left join deletions as d using (device_id)
),

effective as (
    select
        a.device_id,
        a.org_uuid,
        a.user_uuid,
        a.deployment,
        a.observed_at,
        a.source,
        a.precedence,
        a.load_seq,
        a.source_row,
        case when a.is_after_deletion then 'DELETED' else a.status end as status,
        -- sticky: once a deleted device reappeared, the rest of its history carries the flag
        bool_or(a.is_reappearance) over (
            partition by a.device_id order by a.observed_at, a.precedence
            rows between unbounded preceding and current row
        ) as is_deleted_reappearance
    from after_deletion as a
    left join first_known as f using (device_id)
    where not (
        a.status = 'STATUS_UNAVAILABLE'
        and not a.is_after_deletion
        and coalesce(a.observed_at >= f.first_known_at, false)
    )
),

one_per_instant as (
    select *
    from effective
    qualify row_number() over (
        partition by device_id, observed_at
        order by precedence desc, source desc, load_seq desc, source_row desc
    ) = 1
),

changes as (
    select
        *,
        case
            when lag(status) over w is distinct from status then 1
            when lag(is_deleted_reappearance) over w is distinct from is_deleted_reappearance then 1
            else 0
        end as starts_interval
    from one_per_instant
    window w as (partition by device_id order by observed_at)
),

numbered as (
    select
        *,
        sum(starts_interval) over (
            partition by device_id order by observed_at
            rows between unbounded preceding and current row
        ) as interval_seq
    from changes
),

device_attributes as (
    select
        device_id,
        arg_max(org_uuid, observed_at) filter (where org_uuid is not null) as org_uuid,
        arg_max(user_uuid, observed_at) filter (where user_uuid is not null) as user_uuid,
        arg_max(deployment, observed_at) filter (where deployment is not null) as deployment
    from observations
    group by device_id
),

intervals as (
    select
        device_id,
        interval_seq,
        any_value(status) as status,
        bool_or(is_deleted_reappearance) as is_deleted_reappearance,
        min(observed_at) as valid_from,
        arg_min(source, observed_at) as source,
        arg_min(org_uuid, observed_at) filter (where org_uuid is not null) as org_uuid,
        arg_min(user_uuid, observed_at) filter (where user_uuid is not null) as user_uuid,
        arg_min(deployment, observed_at) filter (where deployment is not null) as deployment
    from numbered
    group by device_id, interval_seq
),

timed as (
    select
        *,
        lead(valid_from) over (partition by device_id order by valid_from) as valid_to
    from intervals
),

final as (
    select
        t.device_id,
        coalesce(t.org_uuid, d.org_uuid) as org_uuid,
        coalesce(t.user_uuid, d.user_uuid) as user_uuid,
        coalesce(t.deployment, d.deployment) as deployment,
        t.status,
        t.valid_from,
        t.valid_to,
        t.source,
        t.is_deleted_reappearance,
        t.valid_to is null as is_current
    from timed as t
    left join device_attributes as d using (device_id)
)

select * from final
