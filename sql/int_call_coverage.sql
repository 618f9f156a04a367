-- grain: one row per calendar day (reporting time zone) covered by loaded call data
-- key: covered_day
-- Usage claims (used, idle) need call data. A day is covered when it lies wholly inside the
-- time range of a loaded call source:
-- * the date range the export declares in its file name, `..._YYYY-MM-DD_YYYY-MM-DD` (end
--   exclusive, unless the file holds calls of the end's day or later: then up to its last
--   call's day), dates taken as UTC days: Control Hub's report is in UTC and cannot be
--   rendered in another zone, so its days are UTC days (docs/webex-dch.md);
-- * a fetch window, from the saved page's folder `<start>_<end>` (YYYYMMDDTHHMMSSmmmZ, UTC,
--   end inclusive). The API files a record by when the call finished (the feed's Report
--   time) or reached the cloud (the stream's insertion time), not by its start: a call
--   started before a window's end may come in a later window. So fetched windows that join
--   cover calls started up to `late_hours` (cfg_settings: the late-data horizon of
--   `cdr fetch`, 2 h by default) before their last end: yesterday is covered once a run
--   has fetched to 02:00 today, not at 00:01, when its late calls were still to come;
-- * else the file's first..last start date: the UTC call dates (Hive partitions) the ingest
--   ledger records for it, from 00:00 UTC of the first to 24:00 UTC of the last.
-- A page fetched for some locations only (`cdr fetch --locations`, saved under
-- `<org>.locations-<digest>/`) covers nothing: its window holds those locations' calls, and
-- the others' devices would read idle for days no call of theirs was fetched.
-- Files are read from the ingest ledger only (never from the legs, so coverage costs no scan
-- of the calls): a file whose rows were all duplicates still covers its declared range, and
-- so does one skipped as a copy of a loaded one (the same header-only export of another
-- day); a failed file covers nothing. A name whose dates are no calendar dates declares nothing.
-- Days before the latest retention cutoff are covered no more: retention dropped their legs
-- (UTC days before the cutoff, recorded in the retention ledger).
with files_of_calls as (
    select * from stg_ledger_files
    where table_name = 'call_legs'
),

-- a file skipped as a copy of one loaded before names no table: a copy of a call-leg file
-- without rows covers its own range (a daily export of a day without calls is the header
-- alone, the same bytes every such day); a copy of calls under another name does not (the
-- same calls are no export of another range: a file copied and misnamed)
ledger as (
    select path, partitions from files_of_calls
    where status in ('loaded', 'empty', 'skipped')
        and not regexp_matches(path, '\.locations-[0-9a-f]+[/\\]')
    union all
    select path, partitions from stg_ledger_files
    where status = 'skipped' and table_name is null and content_sha256 in (
        select content_sha256 from files_of_calls where status = 'empty'
    )
),

retained as (
    select timezone('UTC', cast(max(cutoff) as timestamp)) as retained_from
    from stg_ledger_retention
    where table_name = 'call_legs'
),

settings as (
    select * from cfg_settings
),

files as (
    select
        path as file,
        cast(list_min(partitions) as date) as first_call_date,
        cast(list_max(partitions) as date) as last_call_date
    from ledger
),

parsed as (
    select
        f.first_call_date,
        f.last_call_date,
        s.reporting_timezone,
        s.late_hours,
        -- try_cast: a name such as `_2026-02-30_...` (a typo, a hand-made name) declares no
        -- range, and the file covers its call dates; a cast error would break every view
        -- that reads coverage, for as long as the ledger holds the file. A copy's mark
        -- after the dates (`... (1).csv`, a browser's second download; `... - Copy.csv`)
        -- keeps the declaration
        try_cast(regexp_extract(
            f.file, '_(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})( ?\(\d+\)| - Copy)?(\.[A-Za-z0-9.]+)?$', 1
        ) as date) as declared_from,
        try_cast(regexp_extract(
            f.file, '_(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})( ?\(\d+\)| - Copy)?(\.[A-Za-z0-9.]+)?$', 2
        ) as date) as declared_to,
        regexp_extract(f.file, '(\d{8}T\d{9}Z)_(\d{8}T\d{9}Z)[/\\]page-\d+[^/\\]*$', 1)
            as window_from,
        regexp_extract(f.file, '(\d{8}T\d{9}Z)_(\d{8}T\d{9}Z)[/\\]page-\d+[^/\\]*$', 2)
            as window_to
    from files as f
    cross join settings as s
),

declared as (
    select
        *,
        declared_from is not null and declared_to is not null as is_declared
    from parsed
),

ranges as (
    select
        case
            when is_declared then timezone('UTC', cast(declared_from as timestamp))
            when window_from <> '' then
                timezone('UTC', strptime(window_from, '%Y%m%dT%H%M%S%gZ'))
            else timezone('UTC', cast(first_call_date as timestamp))
        end as range_from,
        case
            -- an end written inclusive (`_2026-09-01_2026-09-30`, as a person names
            -- September): a call dated on or after the end a name declares cannot be in an
            -- export whose end is exclusive, so such a file reaches its last call's day
            when is_declared and declared_to > declared_from and last_call_date >= declared_to
                then timezone('UTC', cast(last_call_date + 1 as timestamp))
            when is_declared then timezone('UTC', cast(declared_to as timestamp))
            -- the window's end is inclusive, to the millisecond
            when window_from <> '' then
                timezone('UTC', strptime(window_to, '%Y%m%dT%H%M%S%gZ')) + interval 1 millisecond
            else timezone('UTC', cast(last_call_date + 1 as timestamp))
        end as range_to,
        -- how far the range reaches for calls by their start: a window's end, less the
        -- late-data horizon; a declared range or a file's call dates are by start already
        case
            when not is_declared and window_from <> '' then
                to_seconds(3600 * late_hours)
            else to_seconds(0)
        end as settling,
        reporting_timezone
    from declared
    where is_declared or window_from <> '' or first_call_date is not null
),

kept as (
    select
        greatest(r.range_from, coalesce(k.retained_from, r.range_from)) as range_from,
        r.range_to,
        r.settling,
        r.reporting_timezone
    from ranges as r
    cross join retained as k
),

-- merge overlapping or touching ranges
ordered as (
    select
        *,
        max(range_to) over (
            order by range_from, range_to rows between unbounded preceding and 1 preceding
        ) as reach_before
    from kept
    where range_to > range_from
),

islands as (
    select
        *,
        sum(case when reach_before is null or range_from > reach_before then 1 else 0 end)
            over (order by range_from, range_to rows between unbounded preceding and current row)
            as island
    from ordered
),

merged as (
    select
        min(range_from) as covered_from,
        -- windows join on their ends; the calls they hold by start settle before them
        max(range_to - settling) as covered_to,
        any_value(reporting_timezone) as reporting_timezone
    from islands
    group by island
),

-- the whole days inside each merged range
final as (
    select distinct cast(d.day as date) as covered_day
    from merged as m,
        unnest(generate_series(
            cast(cast(timezone(m.reporting_timezone, m.covered_from) as date) as timestamp),
            cast(cast(timezone(m.reporting_timezone, m.covered_to) as date) as timestamp),
            interval 1 day
        )) as d(day)
    where local_instant(m.reporting_timezone, cast(cast(d.day as date) as timestamp))
        >= m.covered_from
        and local_instant(m.reporting_timezone, cast(cast(d.day as date) + 1 as timestamp))
        <= m.covered_to
)

select * from final
