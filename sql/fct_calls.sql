-- grain: one row per call session (Correlation ID)
-- key: correlation_id
-- Legs stitched into calls by Correlation ID; the two records of one leg paired through
-- Local/Remote call ID (fct_call_legs.leg_id; a record missing one joins its other side) so
-- no metric counts a leg twice; calls linked
-- to their transfer/consult calls through Transfer related call ID, and to the calls a
-- service created through Related call ID. Metric definitions are
-- in sql/README.md (fct_calls).
with legs as (
    select
        *,
        -- Which record is a call's first: the earliest start, then the ORIGINATING record
        -- (the two records of one leg often start at the same instant: the call's location
        -- and hour must not depend on the order of the rows in the export). One BIGINT, not
        -- a struct with the Report ID: a struct key cost the refresh a second per 1M legs.
        epoch_us(start_time) * 2
        + cast(direction is distinct from 'ORIGINATING' as bigint) as first_key
    from fct_call_legs
),

-- A record without both call IDs belongs to the leg of the record that has both and is its
-- other side: that record's Remote call ID is this one's Local call ID (or the reverse), or
-- they share the Network call ID (docs/webex-dch.md#legs-and-correlation). fct_call_legs.leg_id,
-- computed per record, gives such a record a leg of its own, and the leg's talk time would
-- count twice. Such records are rare: the calls holding one are found first, and only their
-- records are joined (a join of every record with its call's records cost fct_calls half
-- again at 1M legs; this costs a fifth).
partial_records as (
    select correlation_id, leg_id, local_call_id, remote_call_id, network_call_id
    from legs
    where local_call_id is null or remote_call_id is null
),

partners as (
    select
        part.correlation_id,
        part.leg_id as own_leg_id,
        -- the other side's leg_id, from the legs the query holds: reading fct_call_legs
        -- again for them decoded the changed days' files twice more, a tenth of the refresh
        -- of fct_calls at 1M legs
        min(whole.leg_id) as leg_id
    from partial_records as part
    inner join legs as whole
        on part.correlation_id = whole.correlation_id
        and whole.local_call_id is not null
        and whole.remote_call_id is not null
        and (
            whole.remote_call_id = part.local_call_id
            or whole.local_call_id = part.remote_call_id
            or whole.network_call_id = part.network_call_id
        )
    group by part.correlation_id, part.leg_id
),

-- One row per leg (one or two records). A leg's talk time is its records' largest
-- duration: both records of a leg carry the same conversation, so it is counted once.
-- NULL when none of its records has a Duration: unknown, not 0 (docs/webex-dch.md).
leg_level as (
    select
        legs.correlation_id,
        coalesce(p.leg_id, legs.leg_id) as leg_id,
        count(*) as record_count,
        bool_or(coalesce(legs.answered, false)) as is_answered,
        max(legs.duration_seconds) as talk_seconds,
        bool_or(legs.direction = 'TERMINATING') as has_terminating_record,
        -- Who the leg reached: the TERMINATING record's user type (NULL when the far end is
        -- outside Webex, e.g. an outbound PSTN call).
        max(legs.user_type) filter (where legs.direction = 'TERMINATING') as reached_user_type,
        -- it rang while another party answered the call (a hunt group member)
        coalesce(bool_or(upper(legs.answered_elsewhere) = 'YES'), false) as is_answered_elsewhere
    from legs
    left join partners as p on legs.correlation_id = p.correlation_id and legs.leg_id = p.own_leg_id
    group by legs.correlation_id, coalesce(p.leg_id, legs.leg_id)
),

leg_classes as (
    select
        *,
        -- A person (or workspace / virtual line) took part, not a service: auto attendant,
        -- hunt group, voicemail, call queue... An unreached far end (PSTN) counts as a party.
        reached_user_type is null or is_person_user_type(reached_user_type) as reaches_party,
        reached_user_type in ('VoiceMailGroup', 'VoiceMailRetrieval') as reaches_voicemail
    from leg_level
),

call_legs as (
    select
        correlation_id,
        count(*) as leg_count,
        sum(talk_seconds) filter (where is_answered and reaches_party) as talk_seconds,
        coalesce(bool_or(is_answered and reaches_party and talk_seconds is null), false)
            as has_unknown_talk,
        coalesce(bool_or(is_answered and reaches_party), false) as is_answered,
        coalesce(bool_or(reaches_voicemail and is_answered), false) as is_voicemail,
        -- Someone was rung and nobody answered in their place: a TERMINATING record at a
        -- party, not answered elsewhere (the answering leg may lie outside the data: an
        -- export of one location)
        coalesce(
            bool_or(
                has_terminating_record
                and reached_user_type is not null
                and reaches_party
                and not is_answered_elsewhere
            ),
            false
        ) as rang_party
    from leg_classes
    group by correlation_id
),

call_records as (
    select
        correlation_id,
        count(*) as record_count,
        min(start_time) as first_start_time,
        -- A leg's end is its release, or its start when the release is missing or earlier
        -- (an unanswered record's release is checked against nothing): every leg then
        -- starts within the call's first start and last release, which the refresh of this
        -- table and a month's report rely on to find the days a call's legs lie on.
        max(greatest(start_time, release_time)) as last_release_time,
        arg_min(report_date, first_key) as report_date,
        arg_min(report_month, first_key) as report_month,
        arg_min(start_time_local, first_key) as start_time_local,
        arg_min(location_name, first_key) as location_name,
        arg_min(org_uuid, first_key) as org_uuid,
        arg_min(calling_number, first_key) as calling_number,
        arg_min(called_number, first_key) as called_number,
        arg_min(user_uuid, first_key) filter (where direction = 'ORIGINATING')
            as originating_user_uuid,
        arg_min(user_name, first_key) filter (where direction = 'ORIGINATING')
            as originating_user_name,
        bool_or(is_webex_go) as has_webex_go_leg,
        count(*) filter (where is_webex_go) as webex_go_record_count,
        coalesce(bool_or(upper(answered_elsewhere) = 'YES'), false) as has_answered_elsewhere,
        coalesce(bool_or(call_type = 'SIP_INBOUND'), false) as has_inbound_record,
        coalesce(
            bool_or(
                direction = 'ORIGINATING'
                and call_type not in ('SIP_ENTERPRISE', 'SIP_INBOUND', 'UNKNOWN')
            ),
            false
        ) as has_outbound_record,
        bool_or(pstn_vendor_name is not null) as is_pstn,
        -- min/max instead of string_agg(distinct ... order by): a third of the cost, and a
        -- call crosses at most two PSTN vendors in practice.
        case
            when min(pstn_vendor_name) = max(pstn_vendor_name) then min(pstn_vendor_name)
            else min(pstn_vendor_name) || ', ' || max(pstn_vendor_name)
        end as pstn_vendor_names,
        max(interaction_id) as interaction_id
    from legs
    group by correlation_id
),

-- The calls a record names: Transfer related call ID (the call it was transferred with) and
-- Related call ID (a call a service of this one created) hold the other call's Local call
-- ID (docs/webex-dch.md#legs-and-correlation); an ID with letters after its number (Cisco's
-- example 2340586843:0A) is matched without them as well (call_id_stem). The other call
-- lies within 24 hours (wxcadm merges transfer calls within ±24 h).
naming_records as (
    select correlation_id, start_time, transfer_related_call_id, related_call_id
    from legs
    where transfer_related_call_id is not null or related_call_id is not null
),

named_ids as (
    select correlation_id, start_time, true as is_transfer, transfer_related_call_id as named_id
    from naming_records where transfer_related_call_id is not null
    union all
    select correlation_id, start_time, true, call_id_stem(transfer_related_call_id)
    from naming_records where call_id_stem(transfer_related_call_id) is not null
    union all
    select correlation_id, start_time, false, related_call_id
    from naming_records where related_call_id is not null
    union all
    select correlation_id, start_time, false, call_id_stem(related_call_id)
    from naming_records where call_id_stem(related_call_id) is not null
),

links as (
    select src.correlation_id, src.is_transfer, dst.correlation_id as other_correlation_id
    from named_ids as src
    inner join legs as dst
        on src.named_id = dst.local_call_id
        and src.correlation_id <> dst.correlation_id
        and dst.start_time between src.start_time - interval 24 hour
        and src.start_time + interval 24 hour
),

transfer_links as (
    select
        correlation_id,
        list(distinct other_correlation_id order by other_correlation_id)
            as transfer_correlation_ids
    from links
    where is_transfer
    group by correlation_id
),

related_links as (
    select
        correlation_id,
        list(distinct other_correlation_id order by other_correlation_id)
            as related_correlation_ids
    from links
    where not is_transfer
    group by correlation_id
),

final as (
    select
        r.correlation_id,
        r.org_uuid,
        r.first_start_time,
        r.last_release_time,
        datediff('millisecond', r.first_start_time, r.last_release_time) / 1000.0
            as elapsed_seconds,
        r.start_time_local,
        r.report_date,
        r.report_month,
        r.location_name,
        case
            when r.has_inbound_record then 'inbound'
            when r.has_outbound_record then 'outbound'
            else 'internal'
        end as direction_class,
        r.calling_number,
        r.called_number,
        -- The caller inside the organisation; NULL for inbound calls (the caller is outside,
        -- and the first ORIGINATING record is a service such as an auto attendant).
        case when not r.has_inbound_record then r.originating_user_uuid end
            as originating_user_uuid,
        case when not r.has_inbound_record then r.originating_user_name end
            as originating_user_name,
        l.leg_count,
        r.record_count,
        l.is_answered,
        l.is_voicemail,
        l.rang_party and not l.is_answered as is_missed,
        r.has_answered_elsewhere,
        -- 0 when no party leg was answered; NULL when none of the answered ones has a
        -- duration (unknown, not 0); else the known ones' sum, has_unknown_talk saying
        -- when some are left out
        cast(case when l.is_answered then l.talk_seconds else 0 end as bigint) as talk_seconds,
        l.has_unknown_talk,
        r.has_webex_go_leg,
        r.webex_go_record_count,
        r.is_pstn,
        r.pstn_vendor_names,
        r.interaction_id,
        t.transfer_correlation_ids,
        t.correlation_id is not null as has_transfer,
        rl.related_correlation_ids
    from call_records as r
    inner join call_legs as l on r.correlation_id = l.correlation_id
    left join transfer_links as t on r.correlation_id = t.correlation_id
    left join related_links as rl on r.correlation_id = rl.correlation_id
)

select * from final
