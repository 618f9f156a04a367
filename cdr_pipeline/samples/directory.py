"""Sample org directory (docs/inputs-directory.md): every department of the synthetic world
with a name and cost centre, every location with its site and country. Deterministic: it
follows the world, which follows the seed."""

from __future__ import annotations

from cdr_pipeline.samples.world import World

DIRECTORY_HEADER = ("entry_type", "entry_id", "name", "cost_centre", "site", "country")

# per org (in world order): department names, in the order of the world's department ids
_DEPARTMENT_NAMES = (
    ("Sales", "Support", "Engineering", "Finance", "Operations"),
    ("Ventes", "Support client", "Ingénierie", "Finances", "Opérations"),
)


def _site(location_name: str) -> str:
    """The site a location sits in: its city, the part before a comma, dash or 'HQ'."""
    city = location_name.split(",")[0].split(" – ")[0]
    return city.removesuffix(" HQ").strip()


def directory_rows(world: World) -> list[list[str]]:
    """org_directory.csv rows: departments (id, name, cost centre), then locations (name,
    site, country)."""
    rows: list[list[str]] = []
    for oi, org in enumerate(world.orgs):
        names = _DEPARTMENT_NAMES[oi % len(_DEPARTMENT_NAMES)]
        for di, dept_id in enumerate(world.departments[org.uuid]):
            name = names[di % len(names)]
            rows.append(["department", dept_id, name, f"CC-{oi + 1}{di + 1:02d}0", "", ""])
    for loc in world.locations:
        rows.append(["location", loc.name, "", "", _site(loc.name), loc.country])
    return rows
