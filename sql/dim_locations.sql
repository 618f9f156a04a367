-- grain: one row per location of the org directory
-- key: location_name
-- The site and country of each location from the org directory (docs/inputs-directory.md),
-- as loaded now; the finance reports join it by location name.
select
    entry_id as location_name,
    site,
    country
from stg_org_directory
where entry_type = 'location'
