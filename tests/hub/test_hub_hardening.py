"""Findings of the outside review at the hub: where sign-in leads, download headers, forwarded
addresses, the backup message and the page-image cache."""

import re

import pytest

from tests.hub_fixtures import HUB_PASSWORD

BROWSER_DROPS = re.compile(r"[\t\n\r]")


def lands_on_this_site(location: str) -> bool:
    """True when a browser following `location` stays on this site (it drops tabs and line breaks, reads \\ as /)."""
    seen = BROWSER_DROPS.sub("", location).replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


def _sign_in_with_next(hub_app, quoted_next: str):
    client = hub_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(
        f"/login?next={quoted_next}", data={"email": "admin@acme.test", "password": HUB_PASSWORD, "csrf_token": token}
    )


@pytest.mark.parametrize(
    "quoted_next", ["/%09/evil.example/x", "/%0d/evil.example", "//evil", "/%5Cevil", "https://evil", "/%0a/evil"]
)
def test_sign_in_never_leads_off_the_hub(hub_app, people, quoted_next):
    answer = _sign_in_with_next(hub_app, quoted_next)
    assert answer.status_code == 302
    assert lands_on_this_site(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/"


def test_sign_in_still_leads_to_the_page_asked_for(hub_app, people):
    answer = _sign_in_with_next(hub_app, "/search%3Fq%3Dx")
    assert answer.status_code == 302 and answer.headers["Location"] == "/search?q=x"
