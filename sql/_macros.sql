-- Macros the views share: each expression written once. `cdr build` creates them before the
-- views (files whose name starts with `_` hold no view).

-- A UTC instant as text, to the second: 2026-10-05T06:34:56Z (messages, details).
create or replace macro iso_utc(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%SZ');

-- A UTC instant as text, to the millisecond, without zone letter: 2026-10-05T06:34:56.123.
-- Ids are built from it (observation_id, violation_id): changing it would change every id.
create or replace macro utc_ms_key(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%S.%g');
