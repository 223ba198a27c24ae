"""Next fire times against an independent reference, across zones and daylight-saving dates.

The reference below walks the clock minute by minute and applies Debian cron's rules as its manual
and source state them, sharing no code with cronsim:

- a day matches when day-of-month and day-of-week both match, except that when both fields are
  restricted (neither starts with ``*``) either one matching is enough;
- a job with a fixed minute and hour (neither field starts with ``*``) is evaluated on the wall
  clock: a time the clocks skip fires at the first real minute after it, and a time that occurs
  twice fires once (the first time);
- any other job fires at every real minute whose wall-clock reading matches.

One more thing cronsim does: when a day or hour boundary of a job like ``* */2 * * *`` falls into a
skipped hour, it fires once at the instant the clocks jump (a reading like 00:00-04:00 that no wall
clock showed). The property allows exactly that on top of the reference: nothing the reference
fires is skipped, nothing fires twice, and any extra fire is such a jump instant.
"""

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronjobs import schedules

# Not the zones whose clocks go back off the hour, Australia/Lord_Howe (by half an hour) and
# Pacific/Chatham (from 03:45 to 02:45): there cronsim skips the repeated minutes after the autumn
# change for jobs like "* */2 * * *" (docs/operations.md, Known limits). Chatham's spring jump is
# tested in test_schedules.py.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "America/Santiago", "Asia/Kathmandu"]
MINUTE = timedelta(minutes=1)


@functools.cache
def transitions(zone_name: str) -> list[datetime]:
    """The instants (UTC) in 2025-2026 at which the zone's UTC offset changes."""
    zone, found = ZoneInfo(zone_name), []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    while t.year < 2027:
        if t.astimezone(zone).utcoffset() != (t + timedelta(hours=1)).astimezone(zone).utcoffset():
            found.append(t)
        t += timedelta(hours=1)
    return found


def field(values: range, star_step_max: int, listed: range | None = None):
    """A cron field as text and the set of values it means: *, */n or a list (drawn from ``listed``)."""
    everything = st.just(("*", set(values)))
    steps = st.integers(2, star_step_max).map(lambda n: (f"*/{n}", set(values[::n])))
    lists = st.sets(st.sampled_from(listed or values), min_size=1, max_size=4).map(
        lambda chosen: (",".join(str(v) for v in sorted(chosen)), chosen)
    )
    return st.one_of(everything, steps, lists)


expressions = st.tuples(
    field(range(60), 30),
    field(range(24), 12),
    field(range(1, 32), 7, listed=range(1, 29)),  # listed days every month has: each fires within weeks
    st.one_of(
        st.just(("*", set(range(1, 13)))),
        st.sets(st.sampled_from(range(1, 13)), min_size=6).map(
            lambda chosen: (",".join(str(v) for v in sorted(chosen)), chosen)
        ),
    ),
    field(range(7), 3),
)


def day_matches(local: datetime, dom: tuple[str, set], month: set, dow: tuple[str, set]) -> bool:
    if local.month not in month:
        return False
    in_dom = local.day in dom[1]
    in_dow = (local.weekday() + 1) % 7 in dow[1]  # cron: 0 = Sunday
    if dom[0].startswith("*") or dow[0].startswith("*"):
        return in_dom and in_dow
    return in_dom or in_dow


def matcher(fields):
    minute, hour, dom, month, dow = fields

    def matches(wall: datetime) -> bool:
        return wall.minute in minute[1] and wall.hour in hour[1] and day_matches(wall, dom, month[1], dow)

    return matches


def is_real(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether a wall clock in ``zone`` ever shows this reading (not inside a skipped hour)."""
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment.replace(tzinfo=None)


def reference_next(fields, zone: ZoneInfo, after: datetime) -> datetime:
    minute, hour = fields[0], fields[1]
    fixed = not minute[0].startswith("*") and not hour[0].startswith("*")
    matches = matcher(fields)

    if fixed and zone != ZoneInfo("UTC"):
        wall = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        while True:
            wall += MINUTE
            if not matches(wall):
                continue
            moment = wall.replace(tzinfo=zone, fold=0)
            while not is_real(moment, zone):
                moment += MINUTE  # a wall time the clocks skipped: the first real minute after it
            if moment > after:
                return moment
    t = after.astimezone(UTC).replace(second=0, microsecond=0)
    while True:
        t += MINUTE
        if matches(t.astimezone(zone).replace(tzinfo=None)):
            return t


@st.composite
def moments_near_transitions(draw):
    zone_name = draw(st.sampled_from(ZONES))
    near = transitions(zone_name) or [datetime(2025, 6, 1, tzinfo=UTC)]
    anchor = draw(st.sampled_from(near))
    offset = draw(st.integers(-36 * 60, 36 * 60))  # minutes around the change
    seconds = draw(st.integers(0, 59))
    return zone_name, anchor + timedelta(minutes=offset, seconds=seconds)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=expressions, where=moments_near_transitions())
def test_cron_fire_times_match_the_reference(fields, where):
    zone_name, after = where
    zone = ZoneInfo(zone_name)
    expression = " ".join(text for text, _ in fields)

    times = schedules.cron_times(expression, zone, after)
    got = [next(times) for _ in range(3)]

    in_order = [t.astimezone(UTC) for t in got]  # in UTC: one zone's datetimes compare by wall clock
    assert in_order == sorted(set(in_order)) and in_order[0] > after, got  # never the same instant twice
    expected, moment = [], after
    while (moment := reference_next(fields, zone, moment)) <= got[-1]:
        expected.append(moment)
    in_utc = {t.astimezone(UTC) for t in got}
    assert {t.astimezone(UTC) for t in expected} <= in_utc, (expression, got, expected)
    matches = matcher(fields)
    for extra in in_utc - {t.astimezone(UTC) for t in expected}:
        reading = next(t for t in got if t.astimezone(UTC) == extra)
        assert not is_real(reading, zone) and matches(reading.replace(tzinfo=None)), (expression, reading)


@settings(max_examples=200, deadline=None)
@given(
    anchor=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    seconds=st.integers(1, 10 * 24 * 3600),
    periods=st.integers(-3, 1000),
    within=st.floats(0, 1),
)
def test_interval_fire_times_are_the_anchor_grid(anchor, seconds, periods, within):
    after = anchor + timedelta(seconds=seconds * (periods + within))
    got = list(zip(range(3), schedules.interval_times(anchor, seconds, after), strict=False))

    k = 1
    while anchor + timedelta(seconds=seconds * k) <= after:
        k += 1
    assert [t for _, t in got] == [anchor + timedelta(seconds=seconds * (k + i)) for i in range(3)]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Both restricted: the 1st of the month or a Monday.
        ("0 0 1 * 1", datetime(2026, 1, 27, tzinfo=UTC), ["2026-02-01", "2026-02-02", "2026-02-09"]),
        # Day-of-week unrestricted: only the 1st.
        ("0 0 1 * *", datetime(2026, 1, 27, tzinfo=UTC), ["2026-02-01", "2026-03-01", "2026-04-01"]),
        # Day-of-month unrestricted: only Mondays.
        ("0 0 * * mon", datetime(2026, 1, 27, tzinfo=UTC), ["2026-02-02", "2026-02-09", "2026-02-16"]),
        # 7 is Sunday too; "13 * fri" fires on every Friday and on each 13th.
        ("0 12 13 * 5,7", datetime(2026, 2, 10, tzinfo=UTC), ["2026-02-13", "2026-02-15", "2026-02-20"]),
    ],
)
def test_day_of_month_and_day_of_week_are_ored_when_both_are_restricted(expression, after, expected):
    times = schedules.cron_times(expression, ZoneInfo("UTC"), after)
    assert [next(times).date().isoformat() for _ in range(3)] == expected
