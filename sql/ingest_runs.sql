-- grain: one row per ingest run
-- key: run_id
-- The run ledger (state/ledger/runs/), for audit: what each run saw, loaded, skipped and
-- rejected, how it ended and how long it took.
with runs as (
    select * from stg_ledger_runs
),

final as (
    select
        run_id,
        command,
        run_date,
        status,
        exit_code,
        started_at,
        finished_at,
        datediff('millisecond', started_at, finished_at) / 1000.0 as duration_seconds,
        files_seen,
        files_loaded,
        files_skipped,
        files_failed,
        rows_read,
        rows_loaded,
        rows_duplicate,
        rows_rejected,
        message
    from runs
)

select * from final
