"""The spellings erasure looks for in files outside the tables: Data Docs pages are rendered
by Jinja, whose escaping writes an apostrophe `&#39;` and a quote `&#34;` (Python's
html.escape writes `&#x27;` and `&quot;`), so O'Brien on a page must be found that way too."""

from __future__ import annotations

import duckdb
import jinja2

from cdr_pipeline.privacy.scrub import _pairs, replace_text, text_pattern


def test_a_name_as_jinja_escapes_it_is_replaced() -> None:
    page = jinja2.Environment(autoescape=True).from_string("<td>{{ v }}</td>")
    for name in ("Siobhan O'Brien", 'Ann "Nan" Lee'):
        rendered = page.render(v=name)
        assert name not in rendered  # escaped: the plain value does not find it
        scrubbed = replace_text(rendered, _pairs({name: "person-1"}))
        assert scrubbed == "<td>person-1</td>", (name, rendered)
        # the pattern that picks the rejects and texts to scrub (RE2, run by DuckDB)
        found = duckdb.execute("select regexp_matches(?, ?)", [rendered, text_pattern([name])])
        assert found.fetchone() == (True,), (name, rendered)
