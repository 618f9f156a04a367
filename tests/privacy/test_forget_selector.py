"""`cdr forget`'s selector as a request copies it: a mail client's `Name <address>`, a
`mailto:` or `tel:` link, a UUID in braces or as a URN. Each is looked up as the value it
wraps; wrapped, it matched no record and `forget` said nothing in the warehouse held the
person (exit 3). The lookup itself: test_forget.py (however the request spells them)."""

from __future__ import annotations

import pytest

from cdr_pipeline.privacy.selector import start_selector


@pytest.mark.parametrize(
    "written",
    [
        "Grace Chen <grace.chen@example.com>",
        '"Chen, Grace" <grace.chen@example.com>',
        " <grace.chen@example.com> ",
        "mailto:grace.chen@example.com",
        "MAILTO:grace.chen@example.com?subject=Erasure",
        " grace.chen@example.com ",
    ],
)
def test_email_selector_forms(written: str) -> None:
    """An address copied from a mail client or a link is looked up as the address alone:
    with its display name, brackets or `mailto:` it matched no record, and `forget` said
    nothing in the warehouse held the person (exit 3)."""
    assert start_selector(None, None, written) == (
        "email",
        {"email": {"grace.chen@example.com"}},
    )


@pytest.mark.parametrize(
    "written",
    [
        "{aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c}",
        " { aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c } ",
        "urn:uuid:aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c",
        "aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c",
    ],
)
def test_user_selector_forms(written: str) -> None:
    """A UUID copied as a directory or registry writes it (in braces, as a URN) is looked up
    as the UUID alone: wrapped, it matched no record and `forget` said nothing held the
    person (exit 3). Case is compared later (`canonical`)."""
    assert start_selector(written, None, None) == (
        "user",
        {"id": {"aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c"}},
    )


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("tel:+1-312-555-0116", "+13125550116"),
        ("TEL:+13125550116;phone-context=example.com", "+13125550116"),
        ("tel:+44-20-7946-0011", "+442079460011"),
        ("+1 (312) 555-0116", "+13125550116"),
    ],
)
def test_number_selector_forms(written: str, number: str) -> None:
    """A number copied as a `tel:` link (a contact card, a web page) is looked up as the
    number: with its scheme it matched no record and `forget` said nothing in the warehouse
    held the person (exit 3)."""
    assert start_selector(None, written, None) == ("number", {"number": {number}})
