-- grain: one row per input file seen by an ingest run
-- key: run_id, file_seq
-- The file ledger (state/ledger/files/), for audit: content hash, status and the four
-- conservation counts (rows_read = rows_loaded + rows_duplicate + rows_rejected).
with files as (
    select * from stg_ledger_files
),

final as (
    select
        run_id,
        file_seq,
        path,
        source,
        kind,
        table_name,
        source_kind,
        content_sha256,
        size_bytes,
        status,
        rows_read,
        rows_loaded,
        rows_duplicate,
        rows_rejected,
        rows_updated,
        webex_go_rows,
        rows_read = rows_loaded + rows_duplicate + rows_rejected as is_conserved,
        partitions,
        unknown_columns,
        missing_columns,
        top_reject_reasons,
        seconds,
        loaded_at,
        message
    from files
)

select * from final
