"""When the agent tries again after a failed cycle."""

import time

from appliance.sync.agent import AgentState, backoff_seconds
from appliance.sync.client import HubError


def test_backoff_grows_with_failures_stays_under_the_cap_and_survives_days_of_them():
    assert all(0 <= backoff_seconds(1, 300) <= 2 for _ in range(200))
    assert max(backoff_seconds(8, 300) for _ in range(200)) > 100
    assert all(backoff_seconds(n, 300) <= 300 for n in (9, 100, 1100, 10**6))


def test_a_hub_that_cannot_be_reached_or_whose_proxy_answers_for_it_is_probed_a_refusal_is_not():
    for error, probed in [
        (HubError("hub unreachable: ConnectionError", retry=True), True),
        (HubError("hub answered 502", retry=True, status=502), True),
        (HubError("hub answered 503", retry=True, status=503), True),
        (HubError("hub answered 500", retry=True, status=500), False),
        (HubError("hub answered 400", retry=False, status=400), False),
        (KeyError("device_id"), False),
    ]:
        agent = AgentState()
        wait = agent.failed(error, max_backoff=300)
        assert agent.unreachable is probed, error
        assert agent.failures == 1 and 0 <= wait <= 2 and agent.next_due <= time.monotonic() + 2
    agent.succeeded(interval=60)
    assert agent.failures == 0 and not agent.unreachable and agent.next_due > time.monotonic() + 59
