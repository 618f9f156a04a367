-- Macros the views share: each expression written once. `cdr build` creates them before the
-- views (files whose name starts with `_` hold no view).

-- A UTC instant as text, to the second: 2026-10-05T06:34:56Z (messages, details).
create or replace macro iso_utc(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%SZ');

-- A UTC instant as text, to the millisecond, without zone letter: 2026-10-05T06:34:56.123.
-- Ids are built from it (observation_id, violation_id): changing it would change every id.
create or replace macro utc_ms_key(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%S.%g');

-- True for a UTC day (a call_date) that a report of the month in the session variable
-- `cdr_report_month` can need: the month and a day either side (a reporting time zone is at
-- most 14 hours from UTC). `cdr report --month` sets the variable; DuckDB folds it into the
-- plan, so the leg scans skip the other months' files. Unset (NULL): every day.
create or replace macro in_report_days(day) as
    getvariable('cdr_report_month') is null
    or day between cast(getvariable('cdr_report_month') as date) - 1
    and last_day(cast(getvariable('cdr_report_month') as date)) + 1;

-- The months of the reporting time zone `tz` that a licence segment [seg_from, seg_to)
-- overlaps, as the local midnights that start them; an open segment (seg_to NULL) runs to
-- the month of the data horizon `horizon` (or of its start, when it starts after it).
-- fct_licence_unit_months, fct_licence_device_months and rpt_licence_usage_monthly cut
-- segments at these months.
create or replace macro segment_months(tz, seg_from, seg_to, horizon) as generate_series(
    date_trunc('month', timezone(tz, seg_from)),
    date_trunc('month', timezone(
        tz, coalesce(seg_to - interval 1 microsecond, greatest(horizon, seg_from))
    )),
    interval 1 month
);

-- The offset of zone `tz` from UTC at the instant `t` (an interval).
create or replace macro zone_offset(tz, t) as timezone(tz, t) - timezone('UTC', t);

-- The instant the clocks of zone `tz` first show the wall clock `w` (a TIMESTAMP): the
-- start of a local day or month. Where the clocks go back they show some wall clocks twice
-- (Atlantic/Azores repeats 00:00-01:00 on the last Sunday of October), and there
-- `timezone(tz, w)` is the later instant in DuckDB, the earlier in Spark: the local day
-- 10-24 ended at 01:00 UTC in DuckDB, though fct_call_legs dates a call at 00:30 UTC on
-- the 25th. `local_instant` takes the earlier: `w` at the offset in force a day before
-- `timezone(tz, w)`, when the zone shows it as `w`. A wall clock the clocks skip is the
-- instant after the gap, as in both engines.
create or replace macro earlier_instant(tz, w, x, e) as
    case when timezone(tz, e) = w then least(e, x) else x end;
create or replace macro local_instant(tz, w) as earlier_instant(
    tz,
    w,
    timezone(tz, cast(w as timestamp)),
    timezone('UTC', cast(
        w - zone_offset(tz, timezone(tz, cast(w as timestamp)) - interval 1 day) as timestamp
    ))
);

-- The instants a month of `segment_months` starts and ends (its next month's start).
create or replace macro month_start_at(tz, month_start) as
    local_instant(tz, cast(month_start as timestamp));
create or replace macro month_end_at(tz, month_start) as
    local_instant(tz, cast(month_start + interval 1 month as timestamp));

-- Money: `units` licences at `price` each, rounded half up to cents as the decimal amount
-- it is (2.675 is stored as the double 2.67499999...: a round of the double product gives
-- 2.67). The price is taken to six decimals. A DOUBLE, as the cost columns are. The
-- product is a decimal of 38 digits: of 18 (both sides of 18) it overflowed past 10^12,
-- a million units at a million. Units under 10^7 and prices under 10^12 are what ingest
-- loads (an earlier release loaded units up to 10^12: they fit too).
create or replace macro cents(units, price) as cast(
    round(cast(units as decimal(38, 0)) * cast(price as decimal(18, 6)), 2) as double
);

-- A phone number as a match key: its digits, so `+14085550100`, `14085550100` (a device list
-- a spreadsheet saved: it drops the +) and `+1 408-555-0100` (typed) are one key; NULL when
-- it holds none (an empty key is no key). `cdr forget` compares numbers the same way
-- (privacy/selector.py).
create or replace macro number_key(n) as nullif(regexp_replace(n, '[^0-9]', '', 'g'), '');

-- A record's user is a person (or a workspace, or a virtual line), not a service (auto
-- attendant, hunt group, voicemail, call queue...): the user types whose TERMINATING record
-- makes a party leg of fct_calls, and the notebooks' person-like legs. `VirtuaLline` is the
-- Cisco docs' typo of `VirtualLine`, which ingest keeps when a file delivers it so
-- (docs/webex-dch.md#enumerations). NULL for a NULL user type.
create or replace macro is_person_user_type(user_type) as
    user_type in ('User', 'Place', 'VirtualLine', 'VirtuaLline');

-- A call ID that names another call (Transfer related call ID, Related call ID) without the
-- letters after its number: Cisco's field docs give a Transfer related call ID as
-- 2340586843:0A and Local call IDs as 113104021:0 (docs/webex-dch.md#legs-and-correlation).
-- NULL when the ID has no such letters (it is matched as it is).
create or replace macro call_id_stem(id) as
    nullif(regexp_extract(id, '^([0-9]+:[0-9]+)[A-Za-z]+$', 1), '');

-- A device's phone number in E.164 form, given the calling code and the home dialling
-- prefixes (regular expressions, cfg_dialling_plans) of its location's country: a number
-- a device list wrote in national form, digits without `+` (`02079460018`, `3125550103`:
-- ingest keeps such numbers without a country code, docs/inputs-devices.md), loses its
-- international prefix (`00442079460018` -> `+442079460018`) or its national prefix and
-- gets the country's code (`02079460018` in GB -> `+442079460018`, `3125550103` in US ->
-- `+13125550103`), as phonenumbers.parse(number, country) reads it (and `00`, where the
-- country's international prefix is another, as an international prefix: 0044... at a
-- US location is +44..., which phonenumbers reads as +1 0044...). Any other value (an
-- E.164 number, text, a number of a location without a known country) is returned as is.
create or replace macro e164_number(n, country_code, national_prefix, international_prefix) as
    case
        when n is null or country_code is null or not regexp_matches(n, '^[0-9]+$') then n
        when
            international_prefix is not null
            and regexp_matches(n, '^(?:' || international_prefix || ')[1-9]')
            then '+' || regexp_replace(n, '^(?:' || international_prefix || ')', '')
        -- 00, the international prefix of most of the world, where the country's is
        -- another (0044 20 7946 0018 typed at a US location, whose prefix is 011): no
        -- national number starts with 00, and read as national it would be +100442...
        when regexp_matches(n, '^00[1-9]') then '+' || substr(n, 3)
        when national_prefix is not null and regexp_matches(n, '^(?:' || national_prefix || ')')
            then '+' || country_code || regexp_replace(n, '^(?:' || national_prefix || ')', '')
        else '+' || country_code || n
    end;

-- `s` with its ASCII letters in upper case and every other character as it is: an id in any
-- case (a subscription id) is one value. Not `upper`: DuckDB maps `ß` to `ẞ` and keeps `ﬁ`,
-- where Spark, Python and polars (ingest) write `SS` and `FI`, so one engine took two ids
-- for one that the other kept apart. Ingest compares ids so too (cdr_pipeline/text.py).
create or replace macro ascii_upper(s) as
    translate(s, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
