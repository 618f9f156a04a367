-- grain: one row (the Webex Go device data horizon)
-- key: as_of_time
-- The latest instant any device observation (snapshot or event) covers. Device views judge
-- "expired" and "still held" as of this instant, not as of the wall clock, so a view over the
-- same data always gives the same answer. NULL while no device data is loaded.
with snapshots as (
    select * from stg_device_snapshots
),

events as (
    select * from stg_device_events
),

final as (
    select
        greatest(
            (select max(snapshot_time) from snapshots),
            (select max(event_time) from events)
        ) as as_of_time
)

select * from final
