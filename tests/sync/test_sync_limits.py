"""The bulk window and the bandwidth cap of the sync agent."""

import datetime as dt

import pytest

from appliance.config import ConfigError
from appliance.sync.limits import Throttle, in_window, parse_window

T = dt.time


def test_a_window_may_cross_midnight_and_empty_means_always():
    night = parse_window("19:00-07:00")
    assert in_window(night, T(23, 30)) and in_window(night, T(6, 59)) and in_window(night, T(19, 0))
    assert not in_window(night, T(7, 0)) and not in_window(night, T(12, 0))
    lunch = parse_window(" 12:00 - 13:30 ")
    assert in_window(lunch, T(12, 45)) and not in_window(lunch, T(13, 30))
    assert parse_window("") is None and in_window(None, T(3, 0))


@pytest.mark.parametrize("text", ["7pm-7am", "25:00-07:00", "19:00", "19:60-20:00"])
def test_an_unreadable_window_is_a_clear_configuration_error(text):
    with pytest.raises(ConfigError, match="APPLIANCE_SYNC_BLOB_WINDOW"):
        parse_window(text)


def test_the_throttle_waits_so_the_average_stays_at_the_cap():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(100_000, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        throttle.account(50_000)
    assert now[0] == pytest.approx(5.0) and len(slept) == 10
    assert Throttle(0, clock=lambda: 0.0, sleep=sleep).account(10**9) is None and len(slept) == 10
