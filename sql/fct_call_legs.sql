-- grain: one row per CDR (call leg record)
-- key: report_id
-- Every canonical column of the Detailed Call History (latest version of each record), the
-- lineage columns, local-time columns from the per-row site offset, the reporting date in
-- the configured reporting time zone, and the leg pairing key.
with legs as (
    select * from stg_call_legs
),

cfg as (
    select * from cfg_settings
),

-- The site's wall clock: UTC plus the per-row site offset (Site timezone is minutes from UTC,
-- not an IANA zone, docs/webex-dch.md#timestamps); timezone('UTC', ...) keeps it independent of the session
-- time zone.
local_times as (
    select
        legs.*,
        timezone('UTC', legs.start_time)
            + to_minutes(coalesce(legs.site_timezone_offset_minutes, 0)) as start_time_local,
        timezone('UTC', legs.answer_time)
            + to_minutes(coalesce(legs.site_timezone_offset_minutes, 0)) as answer_time_local,
        timezone('UTC', legs.release_time)
            + to_minutes(coalesce(legs.site_timezone_offset_minutes, 0)) as release_time_local
    from legs
),

final as (
    select
        legs.*,
        cast(legs.start_time_local as date) as start_date_local,
        hour(legs.start_time_local) as start_hour_local,
        -- Daily cut-off for reports: the date in the reporting time zone (cfg_settings).
        case
            when cfg.reporting_timezone = 'UTC' then legs.call_date
            else cast(timezone(cfg.reporting_timezone, legs.start_time) as date)
        end as report_date,
        -- The two records of one leg point at each other (one's Remote call ID is the other's
        -- Local call ID), so the unordered pair identifies the leg (docs/webex-dch.md#legs-and-correlation).
        -- A record without both IDs falls back to its Network call ID, which both records
        -- of a leg share; a one-sided leg without either keeps its Local call ID or Report ID.
        legs.correlation_id || '|' || case
            when legs.local_call_id is not null and legs.remote_call_id is not null
                then least(legs.local_call_id, legs.remote_call_id)
                    || '/' || greatest(legs.local_call_id, legs.remote_call_id)
            when legs.network_call_id is not null then 'net:' || legs.network_call_id
            when legs.local_call_id is not null
                then legs.local_call_id || '/' || legs.local_call_id
            else 'rid:' || legs.report_id
        end as leg_id
    from local_times as legs
    cross join cfg
)

select
    *,
    cast(date_trunc('month', report_date) as date) as report_month
from final
