"""Findings of the outside review on the box: where sign-in leads, what a search leaves in the
audit trail, how long a session lasts, the shared secret key, and a busy database."""

import re

import pytest

from tests.conftest import token_of

# How a browser reads a Location header: it drops tabs and line breaks and takes a backslash for a slash.
BROWSER_DROPS = re.compile(r"[\t\n\r]")


def lands_on_this_site(location: str) -> bool:
    """True when a browser following `location` stays on this site."""
    seen = BROWSER_DROPS.sub("", location).replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


def _sign_in_with_next(app, quoted_next: str):
    client = app.test_client()
    token = token_of(client, "/login")
    return client.post(
        f"/login?next={quoted_next}", data={"username": "bob", "password": "bob-password-12", "csrf_token": token}
    )


@pytest.mark.parametrize(
    "quoted_next", ["/%09/evil.example/x", "/%0d/evil.example", "//evil", "/%5Cevil", "https://evil", "/%0a/evil"]
)
def test_sign_in_never_leads_off_the_box(app, users, quoted_next):
    answer = _sign_in_with_next(app, quoted_next)
    assert answer.status_code == 302
    assert lands_on_this_site(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/"


def test_sign_in_still_leads_to_the_page_asked_for(app, users):
    answer = _sign_in_with_next(app, "/search%3Fq%3Dx")
    assert answer.status_code == 302 and answer.headers["Location"] == "/search?q=x"
