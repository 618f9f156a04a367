-- grain: one row per Webex Go leg that contradicts the device lifecycle
-- key: anomaly_id
-- Webex Go legs (fct_webex_go_calls) made with no device, after the device was deleted or
-- before it was provisioned, while it was pending activation, or from the old phone after
-- a Lost/Stolen report (before the replacement was activated).
with go_calls as (
    select * from fct_webex_go_calls
    where anomaly_type is not null
),

final as (
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
                || strftime(timezone('UTC', device_deleted_at), '%Y-%m-%dT%H:%M:%SZ')
            when 'before_provisioning' then 'Webex Go leg before the device was provisioned'
            when 'device_pending' then 'Webex Go leg while the device was pending activation'
            when 'old_device_after_lost_stolen' then 'Webex Go leg after Lost/Stolen at '
                || strftime(timezone('UTC', last_lost_stolen_at), '%Y-%m-%dT%H:%M:%SZ')
                || ' and before the replacement was activated'
        end as detail
    from go_calls
)

select * from final
