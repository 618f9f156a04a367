-- grain: one row per Webex Go device and interval of constant licence attributes
-- key: device_id, valid_from
-- The attributes a device had at each instant, from the snapshots and events as of then, so a
-- past month keeps the subscription, location and department in effect then (history is not
-- restated when a device moves). Each attribute is the latest non-empty value observed at or
-- before the instant (a snapshot and an event of the same instant: the snapshot's value wins;
-- two events of one instant: the later delivered, by load_seq then source_row);
-- before the first observation carrying it, its first observed value. Intervals are
-- half-open [valid_from, valid_to), valid_to NULL = still in effect; the first starts at the
-- device's first observation. A phone number written in national form is read in E.164 by
-- the country of the device's location then (int_location_dialling), when the org
-- directory gives it. A subscription id is one subscription in any case (`SUB-1` typed in an
-- event is the device list's `Sub-1`), spelled as the device snapshots spell it (else the
-- events): a case alone never moves a device to another subscription.
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

raw_observations as (
    select
        device_id,
        snapshot_time as observed_at,
        1 as precedence,
        org_uuid,
        user_uuid,
        deployment,
        phone_number,
        subscription_id,
        location_name,
        department_id,
        load_seq,
        source_row
    from snapshots
    union all
    select
        device_id,
        event_time as observed_at,
        0 as precedence,
        org_uuid,
        user_uuid,
        deployment,
        phone_number,
        subscription_id,
        cast(null as varchar) as location_name,
        cast(null as varchar) as department_id,
        load_seq,
        source_row
    from events
),

-- one spelling per subscription id in any case: the snapshots' (read from Cisco's list),
-- else the events'
spellings as (
    select
        ascii_upper(subscription_id) as folded_id,
        coalesce(min(subscription_id) filter (where precedence = 1), min(subscription_id))
            as spelling
    from raw_observations
    where subscription_id is not null
    group by ascii_upper(subscription_id)
),

observations as (
    select
        o.device_id,
        o.observed_at,
        o.precedence,
        o.org_uuid,
        o.user_uuid,
        o.deployment,
        o.phone_number,
        coalesce(sp.spelling, o.subscription_id) as subscription_id,
        o.location_name,
        o.department_id,
        o.load_seq,
        o.source_row
    from raw_observations as o
    left join spellings as sp on ascii_upper(o.subscription_id) = sp.folded_id
),

-- carry each attribute forward (last non-empty value so far)
carried as (
    select
        device_id,
        observed_at,
        precedence,
        load_seq,
        source_row,
        last_value(org_uuid ignore nulls) over w as org_uuid,
        last_value(user_uuid ignore nulls) over w as user_uuid,
        last_value(deployment ignore nulls) over w as deployment,
        last_value(phone_number ignore nulls) over w as phone_number,
        last_value(subscription_id ignore nulls) over w as subscription_id,
        last_value(location_name ignore nulls) over w as location_name,
        last_value(department_id ignore nulls) over w as department_id
    from observations
    window w as (
        partition by device_id order by observed_at, precedence, load_seq, source_row
        rows between unbounded preceding and current row
    )
),

-- the state after the last observation of each instant
per_instant as (
    select *
    from carried
    qualify row_number() over (
        partition by device_id, observed_at
        order by precedence desc, load_seq desc, source_row desc
    ) = 1
),

-- before an attribute's first observation, its first observed value
filled as (
    select
        device_id,
        observed_at,
        coalesce(org_uuid, first_value(org_uuid ignore nulls) over f) as org_uuid,
        coalesce(user_uuid, first_value(user_uuid ignore nulls) over f) as user_uuid,
        coalesce(deployment, first_value(deployment ignore nulls) over f) as deployment,
        coalesce(phone_number, first_value(phone_number ignore nulls) over f) as phone_number,
        coalesce(subscription_id, first_value(subscription_id ignore nulls) over f)
            as subscription_id,
        coalesce(location_name, first_value(location_name ignore nulls) over f)
            as location_name,
        coalesce(department_id, first_value(department_id ignore nulls) over f)
            as department_id
    from per_instant
    window f as (
        partition by device_id order by observed_at
        rows between current row and unbounded following
    )
),

-- a number the device list wrote in national form, in E.164 by the country of the
-- device's location then (int_location_dialling): `(312) 555-0103` and `+13125550103` are
-- one number, so the device keeps its number and the CDRs' `User number` finds it
dialled as (
    select
        f.device_id,
        f.observed_at,
        f.org_uuid,
        f.user_uuid,
        f.deployment,
        e164_number(
            f.phone_number, l.country_code, l.national_prefix, l.international_prefix
        ) as phone_number,
        f.subscription_id,
        f.location_name,
        f.department_id
    from filled as f
    left join int_location_dialling as l on f.location_name = l.location_name
),

changes as (
    select
        *,
        case
            when
                lag(observed_at) over w is null
                or lag(org_uuid) over w is distinct from org_uuid
                or lag(user_uuid) over w is distinct from user_uuid
                or lag(deployment) over w is distinct from deployment
                or lag(phone_number) over w is distinct from phone_number
                or lag(subscription_id) over w is distinct from subscription_id
                or lag(location_name) over w is distinct from location_name
                or lag(department_id) over w is distinct from department_id
                then 1
            else 0
        end as is_change
    from dialled
    window w as (partition by device_id order by observed_at)
),

final as (
    select
        device_id,
        observed_at as valid_from,
        lead(observed_at) over (partition by device_id order by observed_at) as valid_to,
        org_uuid,
        user_uuid,
        deployment,
        case deployment
            when 'BYOD' then 'Webex Go (Bring Your Own Device)'
            when 'MOBILE_OPERATOR' then 'Webex Go Mobile (Mobile Operator)'
        end as licence_type,
        phone_number,
        subscription_id,
        location_name,
        department_id
    from changes
    where is_change = 1
)

select * from final
