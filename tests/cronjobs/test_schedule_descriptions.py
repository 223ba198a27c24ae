"""Human descriptions of schedules: what the job list and the preview show next to the expression."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronjobs.schedules import describe_cron, describe_interval, parse_cron
from vingine.errors import InvalidInput


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("0 9 * * mon-fri", "At 09:00, Monday through Friday"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("0 9,18 * * *", "At 09:00 and 18:00"),
        ("0 0 1 * *", "At 00:00, on day 1 of the month"),
        ("@daily", "At 00:00"),
        ("@hourly", "Every hour"),
        ("0 18 * * 7", "At 18:00, only on Sunday"),
        # Every value of a field reads as "every", not "Sunday through Sunday".
        ("0 0 * * 0-7", "At 00:00"),
        ("0 9 * */1 *", "At 09:00"),
        # A list the describer cannot read is described by the days it means (Sunday, Monday, Thursday).
        ("0 9 * * 1-6/3,0", "At 09:00, only on Sunday through Monday and Thursday"),
    ],
)
def test_cron_expressions_read_as_24_hour_sentences(expression, description):
    assert describe_cron(expression) == description


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        # Both day fields restricted: cron fires on a day matching either, and the text says so.
        ("0 0 1 * 1", "At 00:00, on day 1 of the month, or on Monday"),
        ("0 9 1,15 * 1-5", "At 09:00, on day 1 and 15 of the month, or Monday through Friday"),
        ("30 8 1 6 sat", "At 08:30, on day 1 of the month, or on Saturday, only in June"),
        # Either day field covering every day makes every day fire.
        ("0 0 1-31 * 1", "At 00:00"),
        # A day field starting with "*" keeps the two ANDed, as cron does.
        ("0 0 */2 * 1", "At 00:00, every 2 days, only on Monday"),
    ],
)
def test_both_day_fields_read_as_cron_fires_them(expression, description):
    assert describe_cron(expression) == description


@pytest.mark.parametrize(
    ("seconds", "description"),
    [
        (10, "Every 10 seconds"),
        (60, "Every 1 minute"),
        (5400, "Every 1 hour 30 minutes"),
        (7261, "Every 2 hours 1 minute 1 second"),
    ],
)
def test_intervals_read_in_units(seconds, description):
    assert describe_interval(seconds) == description


RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@st.composite
def cron_fields(draw, index: int) -> str:
    low, high = RANGES[index]
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*", "value", "range"]))
        if kind == "*":
            item = "*"
        elif kind == "value":
            item = str(draw(st.integers(low, high)))
        else:
            start = draw(st.integers(low, high))
            item = f"{start}-{draw(st.integers(start, high))}"
        if draw(st.booleans()):
            item += f"/{draw(st.integers(1, high))}"
        items.append(item)
    return ",".join(items)


@settings(max_examples=300, deadline=None)
@given(st.tuples(*(cron_fields(i) for i in range(5))))
def test_every_accepted_expression_gets_a_description(fields):
    expression = " ".join(fields)
    try:
        parse_cron(expression)
    except InvalidInput:
        return  # refused at creation: never described
    description = describe_cron(expression)
    assert description and not description.startswith("Cron "), (expression, description)
