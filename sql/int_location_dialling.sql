-- grain: one row per location of the org directory whose country has a known dialling plan
-- key: location_name
-- The calling code and home dialling prefixes of each location's country (the org
-- directory's `country`, an ISO 3166 alpha-2 code in any case, docs/inputs-directory.md;
-- cfg_dialling_plans), so a device number a device list wrote in national form reads as
-- the E.164 number the CDRs carry (e164_number in _macros.sql). A location without a
-- country, or with one that is no ISO code (`United Kingdom`), is not listed: its national
-- numbers stay as written.
with locations as (
    select entry_id as location_name, upper(trim(country)) as country
    from stg_org_directory
    where entry_type = 'location' and country is not null
),

plans as (
    select * from cfg_dialling_plans
),

final as (
    select
        l.location_name,
        l.country,
        p.country_code,
        p.national_prefix,
        p.international_prefix
    from locations as l
    inner join plans as p on l.country = p.country
)

select * from final
