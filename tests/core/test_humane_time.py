import datetime as dt

from core.humane_time import ago

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_times_read_as_people_say_them():
    assert ago(None, NOW) == "never"
    assert ago(NOW - dt.timedelta(seconds=10), NOW) == "just now"
    assert ago(NOW - dt.timedelta(minutes=1), NOW) == "1 minute ago"
    assert ago((NOW - dt.timedelta(minutes=3)).isoformat(), NOW) == "3 minutes ago"
    assert ago((NOW - dt.timedelta(hours=2)).replace(tzinfo=None), NOW) == "2 hours ago"  # naive is UTC
    assert ago(NOW - dt.timedelta(days=1, hours=2), NOW) == "yesterday"
    assert ago(NOW - dt.timedelta(days=9), NOW) == "9 days ago"
