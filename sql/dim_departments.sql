-- grain: one row per department of the org directory
-- key: department_id
-- Department names and cost centres from the org directory (docs/inputs-directory.md), as
-- loaded now; the finance reports join it to show names instead of ids.
select
    entry_id as department_id,
    name as department_name,
    cost_centre
from stg_org_directory
where entry_type = 'department'
