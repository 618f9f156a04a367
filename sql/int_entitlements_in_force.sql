-- grain: one row per entitlement row that can be in force
-- key: subscription_key, licence_type, valid_from
-- The entitlement rows the finance figures read, one definition for all of them
-- (rpt_licence_reconciliation, and the note of `cdr report reconciliation` and the finance
-- summary naming rows whose ranges overlap: cdr_pipeline/reports/overlaps.py):
-- * one row per key without regard to the subscription id's case (`subscription_key`, its
--   ASCII letters upper-cased: `ascii_upper`, as ingest compares it; `upper` took `ß` for
--   `ẞ` where ingest took it for `SS`): a row re-sent with the id in another case amends
--   the earlier one (the later load wins), as a row of the same key does at ingest, rather
--   than adding its units to it (Cisco gives no two subscriptions ids that differ in case
--   only);
-- * a row of 0 units is one taken back (its key loaded again with 0 units): it is not in
--   force, as if it had never been loaded (no units, price, currency or row of its own);
-- * nor is a row whose valid_to falls before its valid_from (dates typed the wrong way
--   round, which the quality suite fails): its days counted backwards took its units off
--   those in force between the two dates.
-- `subscription_id` is the row's own spelling; valid_to is inclusive, NULL = open.
with entitlements as (
    select * from stg_entitlements
),

latest as (
    select
        ascii_upper(subscription_id) as subscription_key,
        subscription_id,
        licence_type,
        units,
        valid_from,
        valid_to,
        unit_price,
        currency
    from entitlements
    qualify row_number() over (
        partition by ascii_upper(subscription_id), licence_type, valid_from
        order by ingested_at desc, source_file desc, source_row desc
    ) = 1
),

final as (
    select * from latest
    where units <> 0 and (valid_to is null or valid_to >= valid_from)
)

select * from final
