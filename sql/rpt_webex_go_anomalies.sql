-- grain: one row per Webex Go lifecycle anomaly (a call-side leg or a device-side violation)
-- key: anomaly_id
-- Call side (anomaly_source 'call'): Webex Go legs (fct_webex_go_calls) made with no device,
-- after the device was deleted, while it was unlisted (device_unlisted: left out of the org's
-- snapshots, so not use of its licence) or before it was provisioned, while it was pending
-- activation, or from the old phone after a Lost/Stolen report (before the replacement was
-- activated). Device side (anomaly_source 'device'): the lifecycle rule violations of
-- fct_device_violations (code issued while not pending, events after delete, a device a
-- snapshot no longer lists (device_unlisted), ...).
with go_calls as (
    select * from fct_webex_go_calls
    where anomaly_type is not null
),

violations as (
    select * from fct_device_violations
),

call_anomalies as (
    select
        'call:' || report_id as anomaly_id,
        'call' as anomaly_source,
        anomaly_type,
        start_time as observed_at,
        report_month as month,
        device_id,
        user_uuid,
        user_number as phone_number,
        report_id,
        correlation_id,
        device_status,
        code_state,
        case anomaly_type
            when 'no_device' then 'Webex Go leg of a user with no Webex Go device'
            when 'device_deleted' then 'Webex Go leg after the device was deleted at '
                || iso_utc(device_deleted_at)
            when 'device_unlisted' then 'Webex Go leg while the device was unlisted (left '
                || 'out of the snapshot of ' || iso_utc(device_unlisted_at)
                || '): not use of its licence'
            when 'before_provisioning' then 'Webex Go leg before the device was provisioned'
            when 'device_pending' then 'Webex Go leg while the device was pending activation'
            when 'old_device_after_lost_stolen' then 'Webex Go leg after Lost/Stolen at '
                || iso_utc(last_lost_stolen_at)
                || ' and before the replacement was activated'
        end as detail
    from go_calls
),

device_anomalies as (
    select
        'device:' || v.violation_id as anomaly_id,
        'device' as anomaly_source,
        lower(v.violation_type) as anomaly_type,
        v.observed_at,
        cast(date_trunc('month', timezone(cfg.reporting_timezone, v.observed_at)) as date) as month,
        v.device_id,
        v.user_uuid,
        cast(null as varchar) as phone_number,
        cast(null as varchar) as report_id,
        cast(null as varchar) as correlation_id,
        cast(null as varchar) as device_status,
        cast(null as varchar) as code_state,
        v.detail
    from violations as v
    cross join cfg_settings as cfg
),

final as (
    select * from call_anomalies
    union all
    select * from device_anomalies
)

select * from final
