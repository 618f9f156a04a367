-- grain: one row per activation code issued (an ACTIVATION_CODE_ISSUED event)
-- key: device_id, code_seq
-- Rules (docs/webex-dch.md#activation-codes): a code is single-use; it expires at the code_expires_at
-- the event states, else issued_at + code_expiry_days (cfg_settings, default 90); a newer code
-- invalidates every earlier one (superseded_at). consumed_at is the first activation (an
-- ACTIVATED event, or a PENDING_ACTIVATION -> ONLINE or OFFLINE change in the status
-- history, an OFFLINE after a Lost/Stolen excepted: the lost phone's line; an ONLINE after
-- that OFFLINE is the replacement activated) while the code
-- was the valid one: after issue, before expiry, supersession and deletion.
-- outcome: CONSUMED, else whichever ended the code first of SUPERSEDED / DEVICE_DELETED /
-- EXPIRED (expired as of int_device_as_of), else PENDING. A code issued while the device was
-- not PENDING_ACTIVATION (ONLINE, OFFLINE, DELETED) is kept and flagged is_anomaly; with no
-- known status at issue time it is not flagged.
with events as (
    select * from stg_device_events
),

settings as (
    select * from cfg_settings
),

as_of as (
    select * from int_device_as_of
),

history as (
    select * from fct_device_status_history
),

deletions as (
    select device_id, min(event_time) as deleted_at
    from events
    where event_type = 'DELETED'
    group by device_id
),

codes as (
    select
        device_id,
        org_uuid,
        event_id,
        event_time as issued_at,
        code_expires_at,
        row_number() over (partition by device_id order by event_time, event_id) as code_seq
    from events
    where event_type = 'ACTIVATION_CODE_ISSUED'
),

codes_timed as (
    select
        c.*,
        coalesce(
            c.code_expires_at,
            -- an exact number of 24 h days, whatever the session time zone
            c.issued_at + to_seconds(86400 * s.code_expiry_days)
        ) as expires_at,
        lead(c.issued_at) over (partition by c.device_id order by c.code_seq) as superseded_at,
        case when d.deleted_at is not null then greatest(d.deleted_at, c.issued_at) end
            as deleted_at
    from codes as c
    cross join settings as s
    left join deletions as d using (device_id)
),

status_changes as (
    select
        device_id,
        status,
        valid_from,
        lag(status) over (partition by device_id order by valid_from) as previous_status,
        lag(valid_from) over (partition by device_id order by valid_from) as previous_from
    from history
),

-- Pending -> Offline changes whose Pending interval holds a Lost/Stolen: Lost/Stolen
-- disables the line on the lost phone, so the Offline is that line, not a replacement
-- activated (no reactivation, as in rpt_reclaim_candidates): no code was used
offline_after_lost_stolen as (
    select distinct s.device_id, s.valid_from
    from status_changes as s
    inner join events as e
        on e.device_id = s.device_id
        and e.event_type = 'LOST_STOLEN'
        and e.event_time >= s.previous_from
        and e.event_time <= s.valid_from
    where s.status = 'OFFLINE' and s.previous_status = 'PENDING_ACTIVATION'
),

activations as (
    select device_id, event_time as activated_at
    from events
    where event_type = 'ACTIVATED'
    union
    select s.device_id, s.valid_from as activated_at
    from status_changes as s
    left join offline_after_lost_stolen as x
        on s.device_id = x.device_id
        and s.valid_from = x.valid_from
    -- Pending, then Online or Offline: the line was put on the phone (Offline: and
    -- disabled there since, unless the Pending was a Lost/Stolen's); Offline -> Online is
    -- the user enabling it again, not a use of a code
    where
        s.status in ('ONLINE', 'OFFLINE')
        and s.previous_status = 'PENDING_ACTIVATION'
        and x.device_id is null
    union
    -- Online after the lost phone's Offline: the replacement phone was activated, and only
    -- its new code can have done it (as rpt_reclaim_candidates reads it: reactivated)
    select s.device_id, s.valid_from as activated_at
    from status_changes as s
    inner join offline_after_lost_stolen as x
        on s.device_id = x.device_id
        and s.previous_from = x.valid_from
    where s.status = 'ONLINE' and s.previous_status = 'OFFLINE'
),

consumption as (
    select c.device_id, c.code_seq, min(a.activated_at) as consumed_at
    from codes_timed as c
    inner join activations as a
        on a.device_id = c.device_id
        and a.activated_at >= c.issued_at
        and a.activated_at < c.expires_at
        and (c.superseded_at is null or a.activated_at < c.superseded_at)
        and (c.deleted_at is null or a.activated_at < c.deleted_at)
    group by c.device_id, c.code_seq
),

status_at_issue as (
    select c.device_id, c.code_seq, h.status as issued_while_status
    from codes_timed as c
    asof left join history as h
        on c.device_id = h.device_id and c.issued_at >= h.valid_from
),

ended as (
    select
        c.*,
        k.consumed_at,
        s.issued_while_status,
        least(
            c.superseded_at,
            c.deleted_at,
            case when c.expires_at <= a.as_of_time then c.expires_at end
        ) as ended_at
    from codes_timed as c
    cross join as_of as a
    left join consumption as k using (device_id, code_seq)
    left join status_at_issue as s using (device_id, code_seq)
),

final as (
    select
        device_id,
        code_seq,
        event_id,
        org_uuid,
        issued_at,
        expires_at,
        superseded_at,
        consumed_at,
        case
            when consumed_at is not null then 'CONSUMED'
            when ended_at is null then 'PENDING'
            when ended_at = superseded_at then 'SUPERSEDED'
            when ended_at = deleted_at then 'DEVICE_DELETED'
            else 'EXPIRED'
        end as outcome,
        case when consumed_at is null then ended_at end as ended_at,
        issued_while_status,
        coalesce(issued_while_status in ('ONLINE', 'OFFLINE', 'DELETED'), false) as is_anomaly
    from ended
)

select * from final
