-- grain: one row per device match key and interval of the same chosen device
-- key: match_key, interval_seq
-- Which Webex Go device a Webex Go leg is made from, by the leg's key and start time, worked
-- out from the devices alone so that fct_webex_go_leg_devices reads each leg once. A leg's
-- keys are 'u:' || its User UUID in lower case and 'p:' || the digits of its User number;
-- the phone number counts only when the user UUID finds none (a CDR without User UUID, or a
-- device list without it). A device holds each user's key and each number it had over time
-- (int_device_attribute_history) for the time it had it, from its first observation on: a
-- device whose number changed, or that was given to another user, keeps the legs of its old
-- number and user, and a number or a user moved from one device to another matches each for
-- its own time. Of a key's holders, a leg started at
-- instant t takes the one holding the key at t that existed at t, one Online at t before
-- the others (a user with two Webex Go devices: a line disabled on its phone, Offline, or
-- a device waiting for its Lost/Stolen replacement to be activated places no call), then one
-- already activated before one still pending (a phone places Webex Go calls only once
-- activated), then the latest to take the key before t (a deleted device, a number given up and nobody holding
-- it at t), then the first to take it after t (a leg before the device's first
-- observation). A third key, 'b:' || the user's UUID || '|' || the number's digits, tells
-- one user's devices apart by the number each had: a leg of a user with two Webex Go
-- phones takes the one whose number it carries when that one was held and activated then
-- (`is_active`), not the latest of the two. Intervals are half-open [valid_from, valid_to),
-- numbered by interval_seq from 1; valid_from NULL = from the beginning, valid_to NULL =
-- no end; matched_by is user_uuid (also for the third key) or phone_number; is_active says
-- whether the chosen device held the key, was not deleted and was activated in the
-- interval. tied_device_count is how many of the key's holders rank with the chosen one in
-- the interval (all Online, or all activated, or all pending: two Online phones of one
-- user, and a leg whose number is neither's or, BYOD phones sharing the user's number,
-- both's); is_ambiguous (tied_device_count > 1) says
-- the choice among them is by provisioning time alone (the latest to take the key), not
-- by anything the leg shows. 1 when one device ranks first, and for a choice by time (no
-- holder at the point).
with devices as (
    select
        device_id,
        first_activated_at,
        deleted_at
    from dim_webex_go_devices
),

-- the users and numbers each device had over time (int_device_attribute_history), as match
-- keys: its user's UUID in lower case (a UUID's hex digits are case-free) and its number's
-- digits (a device list edited in a spreadsheet loses the leading + of an E.164 number, and
-- one typed by hand has blanks and dashes: +1 408-555-0100); consecutive intervals with the
-- same key are one holding [held_from, held_to) (held_to NULL: still held; the first starts
-- at the device's first observation)
attribute_keys as (
    select
        device_id,
        valid_from,
        valid_to,
        'user_uuid' as matched_by,
        'u' as key_kind,
        'u:' || lower(user_uuid) as match_key
    from int_device_attribute_history
    union all
    select
        device_id,
        valid_from,
        valid_to,
        'phone_number' as matched_by,
        'p' as key_kind,
        'p:' || number_key(phone_number) as match_key
    from int_device_attribute_history
    union all
    select
        device_id,
        valid_from,
        valid_to,
        'user_uuid' as matched_by,
        'b' as key_kind,
        'b:' || lower(user_uuid) || '|' || number_key(phone_number) as match_key
    from int_device_attribute_history
),

key_intervals as (
    select
        *,
        case
            when
                lag(match_key) over (
                    partition by device_id, key_kind order by valid_from
                ) is not distinct from match_key
                then 0
            else 1
        end as is_new_key
    from attribute_keys
),

key_runs as (
    select
        *,
        sum(is_new_key) over (
            partition by device_id, key_kind order by valid_from
            rows between unbounded preceding and current row
        ) as run_seq
    from key_intervals
),

key_holdings as (
    select
        device_id,
        matched_by,
        match_key,
        min(valid_from) as held_from,
        case when count(valid_to) = count(*) then max(valid_to) end as held_to
    from key_runs
    where match_key is not null
    group by device_id, matched_by, key_kind, match_key, run_seq
),

-- the devices' Online intervals [online_from, online_to) (fct_device_status_history)
onlines as (
    select device_id, valid_from as online_from, valid_to as online_to
    from fct_device_status_history
    where status = 'ONLINE'
),

-- the keys a leg can match, each held [held_from, held_to): its user's UUID while the device
-- was that user's, a phone number's digits while the device had it
device_keys as (
    select
        h.match_key,
        h.matched_by,
        d.device_id,
        h.held_from,
        h.held_to,
        d.first_activated_at,
        d.deleted_at
    from key_holdings as h
    inner join devices as d on h.device_id = d.device_id
),

-- Of a key's holders, a leg started at instant t takes the one holding it at t that existed
-- at t (Online at t, then activated by t, before pending), then the latest to take it before
-- t, then the first to take it after t (ties: the smaller device_id). That choice changes
-- only at the instants a device takes or gives up a key, at its first activation and
-- deletion and where an Online interval of it starts or ends, so
-- it is worked out here from the few devices, once per key and interval between those
-- instants. The first interval (valid_from NULL: from the beginning) is also the choice for
-- a leg without a start time, which compares as before every device.
choice_points as (
    select match_key, cast(null as timestamptz) as point_at from device_keys
    union
    select match_key, held_from as point_at from device_keys
    where held_from is not null
    union
    select match_key, held_to as point_at from device_keys
    where held_to is not null
    union
    select match_key, deleted_at as point_at from device_keys
    where deleted_at is not null
    union
    select match_key, first_activated_at as point_at from device_keys
    where first_activated_at is not null
    union
    select k.match_key, o.online_from as point_at
    from device_keys as k
    inner join onlines as o on k.device_id = o.device_id
    union
    select k.match_key, o.online_to as point_at
    from device_keys as k
    inner join onlines as o on k.device_id = o.device_id
    where o.online_to is not null
),

-- each holder of a key at each point with its rank there (bucket: 0 held and Online, 1 held
-- and activated, 2 held and pending, 3 taken before the point, 4 taken after it) and how
-- many holders share that rank (tied_device_count of the chosen one)
ranked as (
    select
        c.match_key,
        c.point_at,
        k.device_id,
        k.matched_by,
        coalesce(
            k.held_from <= c.point_at
            and coalesce(k.held_to > c.point_at, true)
            and coalesce(k.deleted_at > c.point_at, true)
            and k.first_activated_at <= c.point_at,
            false
        ) as is_active,
        case
            when
                k.held_from <= c.point_at
                and coalesce(k.held_to > c.point_at, true)
                and coalesce(k.deleted_at > c.point_at, true)
                and o.device_id is not null
                then 0
            when
                k.held_from <= c.point_at
                and coalesce(k.held_to > c.point_at, true)
                and coalesce(k.deleted_at > c.point_at, true)
                and k.first_activated_at <= c.point_at
                then 1
            when
                k.held_from <= c.point_at
                and coalesce(k.held_to > c.point_at, true)
                and coalesce(k.deleted_at > c.point_at, true)
                then 2
            when k.held_from <= c.point_at then 3
            else 4
        end as bucket,
        case
            when k.held_from <= c.point_at then -epoch_ms(k.held_from)
            else epoch_ms(k.held_from)
        end as nearest
    from choice_points as c
    inner join device_keys as k on c.match_key = k.match_key
    -- the device's Online interval holding the point, if any (a device's Online intervals
    -- do not overlap, so at most one)
    left join onlines as o
        on k.device_id = o.device_id
        and o.online_from <= c.point_at
        and coalesce(o.online_to > c.point_at, true)
),

ranked_with_ties as (
    select
        *,
        count(*) over (partition by match_key, point_at, bucket) as same_rank_count
    from ranked
),

choices as (
    select
        match_key,
        point_at,
        arg_min(
            {
                chosen_device_id: device_id,
                chosen_matched_by: matched_by,
                chosen_is_active: is_active,
                -- holders the rule cannot tell apart: of the same rank as the chosen one
                -- while holding the key (two Online phones of one user); a choice by time
                -- (nobody holding the key at the point) is no tie
                tied_device_count: case when bucket <= 2 then same_rank_count else 1 end
            },
            {bucket: bucket, nearest: nearest, device_id: device_id}
        ) as pick
    from ranked_with_ties
    group by match_key, point_at
),

final as (
    select
        match_key,
        row_number() over (partition by match_key order by point_at nulls first) as interval_seq,
        point_at as valid_from,
        lead(point_at) over (partition by match_key order by point_at nulls first) as valid_to,
        pick.chosen_device_id as device_id,
        pick.chosen_matched_by as matched_by,
        pick.chosen_is_active as is_active,
        pick.tied_device_count,
        pick.tied_device_count > 1 as is_ambiguous
    from choices
)

select * from final
