-- Macros the views share: each expression written once. `cdr build` creates them before the
-- views (files whose name starts with `_` hold no view). One `create macro` per statement.

-- A UTC instant as text, to the second: 2026-10-05T06:34:56Z (messages, details).
create or replace macro iso_utc(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%SZ');

-- A UTC instant as text, to the millisecond: 2026-10-05T06:34:56.123Z (ids built from times).
create or replace macro iso_utc_ms(ts) as strftime(timezone('UTC', ts), '%Y-%m-%dT%H:%M:%S.%gZ');
