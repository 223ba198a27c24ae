"""Schedule values: what a schedule is (``ScheduleSpec``), parsing and validating it, describing
it to people, and the one fire-time evaluator.

cronsim (a maintained evaluator checked against Debian cron) decides what an expression means and
when it fires; beat (``cronjobs.beat``) fires exactly those times, and the API's next_run_time and
preview show them. Nothing here touches the database.
"""

import functools
import itertools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cron_descriptor import ExpressionDescriptor, Options
from cronsim import CronSim, CronSimError
from django.conf import settings
from django.db import models

from vingine.errors import InvalidInput

FIELD_NAMES = ("minute", "hour", "day", "month", "day_of_week")
EXPECTED_PARTS = "Expected 5 parts (minute hour day month day_of_week)"

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# One list item: "*", "5", "mon", "1-5", "jan-mar", each optionally followed by "/step".
ITEM = re.compile(r"^(\*|[0-9a-z]+(-[0-9a-z]+)?)(/[0-9]+)?$")


class ScheduleType(models.TextChoices):
    CRON = "cron"
    INTERVAL = "interval"


@dataclass(frozen=True)
class CronExpression:
    source: str  # as the user wrote it, shown back as the job's "schedule"
    fields: tuple[str, str, str, str, str]  # the five fields after macro expansion

    @property
    def trigger(self) -> str:
        # The same text APScheduler's CronTrigger printed, which clients of the original API saw.
        minute, hour, day, month, dow = self.fields
        return f"cron[month='{month}', day='{day}', day_of_week='{dow}', hour='{hour}', minute='{minute}']"


def _invalid(expression: str, reason: str) -> InvalidInput:
    return InvalidInput(f"Invalid cron expression: {expression}. {reason}")


def _check_item_syntax(expression: str, index: int, field: str) -> None:
    names = MONTH_NAMES if index == 3 else DAY_NAMES if index == 4 else ()
    for item in field.split(","):
        match = ITEM.match(item)
        words = re.findall(r"[a-z]+", item)
        if not match or any(word not in names for word in words):
            raise _invalid(
                expression,
                f"The {FIELD_NAMES[index]} field has an unsupported value '{item}' "
                "(use numbers, names like mon or jan, *, ranges a-b, lists a,b and steps /n)",
            )


# Cached: beat evaluates the same few expressions for many jobs on every tick, and the
# validation above costs far more than computing a fire time. Refusals raise, so are not cached.
@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronExpression:
    source = expression.strip()
    text = MACROS.get(source.lower(), source.lower())
    if text.startswith("@"):
        raise _invalid(source, f"Unknown macro; use one of {', '.join(MACROS)}")
    fields = text.split()
    if len(fields) != 5:
        raise _invalid(source, EXPECTED_PARTS)
    for index, field in enumerate(fields):
        _check_item_syntax(source, index, field)

    try:
        sim = CronSim(" ".join(fields), datetime(2000, 1, 1))
        next(sim)
    except CronSimError as exc:
        if _never_fires(fields):
            raise _invalid(source, "It never fires: that day does not occur in the chosen months") from None
        raise _invalid(
            source, f"{exc} (check the ranges: minute 0-59, hour 0-23, day 1-31, month 1-12, day_of_week 0-7)"
        ) from None
    except (ValueError, IndexError, KeyError) as exc:
        raise _invalid(source, f"{exc}") from None

    return CronExpression(source=source, fields=tuple(fields))


def _never_fires(fields: list[str]) -> bool:
    """True when every field is valid on its own but the day-of-month never meets the months (0 0 30 2 *)."""
    try:
        CronSim(" ".join(["0", "0", fields[2], "*", "*"]), datetime(2000, 1, 1))
        # Without the day, the rest must be valid too, else the error is an out-of-range value (60 * * * *).
        CronSim(" ".join([*fields[:2], "*", *fields[3:]]), datetime(2000, 1, 1))
        return True
    except CronSimError:
        return False


# --- intervals -------------------------------------------------------------------------------

MAX_INTERVAL_SECONDS = 366 * 24 * 3600


def interval_seconds(*, hours: int, minutes: int, seconds: int, minimum: int) -> int:
    if min(hours, minutes, seconds) < 0:
        raise InvalidInput("hours, minutes and seconds must not be negative")
    total = hours * 3600 + minutes * 60 + seconds
    if total == 0:
        raise InvalidInput("At least one of hours, minutes or seconds must be greater than 0")
    if total < minimum:
        raise InvalidInput(f"Interval is {total} seconds; the shortest allowed is {minimum} seconds")
    if total > MAX_INTERVAL_SECONDS:
        raise InvalidInput(f"Interval is {total} seconds; the longest allowed is 366 days")
    return total


def interval_display(total: int) -> str:
    """'1h 30m' as in the API contract; hours are not folded into days."""
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return " ".join(parts)


def interval_trigger(total: int) -> str:
    return f"interval[{timedelta(seconds=total)}]"


def whole_second_after(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole second: where a new interval job's slots are anchored."""
    return moment if not moment.microsecond else moment.replace(microsecond=0) + timedelta(seconds=1)


# --- descriptions ----------------------------------------------------------------------------


FULL_VALUES = (set(range(60)), set(range(24)), set(range(1, 32)), set(range(1, 13)), set(range(7)))


# Cached: every job in a list is described, and cron-descriptor reads its translation file again
# for each description (about 1 ms: most of the time of a page of 100 jobs).
@functools.lru_cache(maxsize=4096)
def describe_cron(expression: str) -> str:
    """'At 09:00, Monday through Friday', in 24-hour time, for an expression parse_cron accepted."""
    parsed = parse_cron(expression)
    sim = CronSim(" ".join(parsed.fields), datetime(2000, 1, 1))
    values = (set(sim.minutes), set(sim.hours), set(sim.days), set(sim.months), {v % 7 for v in sim.weekdays})
    # Cron's rule (cronsim follows it): when neither day field starts with "*", a day matching
    # either fires. Then a day field covering every value makes every day fire.
    days_ored = not parsed.fields[2].startswith("*") and not parsed.fields[4].startswith("*")
    every_day = days_ored and (values[2] == FULL_VALUES[2] or values[4] == FULL_VALUES[4])
    # Macros expanded, and a field covering every value written "*": cron-descriptor would call
    # day_of_week 0-7 "Sunday through Sunday" and month */1 "January through December".
    fields = [
        "*" if found == full or (every_day and index in (2, 4)) else field
        for index, (field, found, full) in enumerate(zip(parsed.fields, values, FULL_VALUES, strict=True))
    ]
    days_ored = days_ored and not every_day
    try:
        return _describe(fields, days_ored)
    except Exception:
        # cron-descriptor trips over some valid lists ("1-6/3,0"); the same values spelled as
        # plain ranges ("0,1,4") mean the same to cron and parse.
        plain = [field if field == "*" else _ranges(found) for field, found in zip(fields, values, strict=True)]
        try:
            return _describe(plain, days_ored)
        except Exception:
            return f"Cron {' '.join(parsed.fields)}"


def _describe(fields: list[str], days_ored: bool) -> str:
    options = Options()
    options.use_24hour_time_format = True
    options.throw_exception_on_parse_error = True
    descriptor = ExpressionDescriptor(" ".join(fields), options)
    if not days_ored:
        return descriptor.get_description()
    # cron-descriptor reads the two day fields as "and" ("on day 1 of the month, only on Monday");
    # cron fires on the 1st and on every Monday, so say "or".
    weekdays = descriptor.get_day_of_week_description().removeprefix(", ").removeprefix("only ")
    return (
        descriptor.get_time_of_day_description()
        + descriptor.get_day_of_month_description()
        + f", or {weekdays}"
        + descriptor.get_month_description()
    )


def _ranges(values) -> str:
    """{1, 2, 3, 5} as '1-3,5'."""
    ordered = sorted(values)
    parts, start = [], ordered[0]
    for previous, current in zip(ordered, [*ordered[1:], None], strict=True):
        if current != previous + 1 if current is not None else True:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(parts)


def describe_interval(total: int) -> str:
    """'Every 1 hour 30 minutes': the units of ``interval_display``, spelled out."""
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if n
    ]
    return "Every " + " ".join(parts)


# --- time zones ------------------------------------------------------------------------------


@functools.cache
def _zone_names() -> frozenset[str]:
    # "localtime" means whatever the host is set to, "Factory" no zone at all: neither is a place.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory"}


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    if name not in _zone_names():
        raise InvalidInput(f"Unknown timezone '{name}'; use an IANA name such as 'UTC' or 'Europe/Paris'")
    return zoneinfo.ZoneInfo(name)


# --- fire times ------------------------------------------------------------------------------
# One evaluator for everything that asks "when does this fire": the scheduler, the API's
# next_run_time and the schedule preview. Cron times follow Debian cron through cronsim, in the
# job's own zone: a time inside a DST gap fires once right after the clocks jump, a fixed time in a
# repeated hour fires once, and an hourly job fires once per real hour.


def cron_times(expression: str, zone: zoneinfo.ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fire times of ``expression`` strictly after ``after``, in ``zone``, as aware datetimes."""
    fields = " ".join(parse_cron(expression).fields)
    previous = after.astimezone(zone)
    for fire in CronSim(fields, previous):
        yield from _skipped_after_a_gap(fields, zone, previous, fire)
        yield fire
        previous = fire


GAP_SCAN = timedelta(hours=2)  # the real time after a clock change that is checked minute by minute
MINUTE = timedelta(minutes=1)


def _skipped_after_a_gap(fields: str, zone: zoneinfo.ZoneInfo, after: datetime, fire: datetime) -> list[datetime]:
    """The matching minutes cronsim (2.8, 2.9) leaves out between ``after`` and ``fire``.

    When the clocks jump forward, cronsim counts the next hour from a wall time the jump skipped,
    and misses the first real hour after it for jobs with a ``*`` or stepped minute: "* 1 * * *" in
    America/Santiago on the day its clocks jump from 00:00 to 01:00, or "* 3 * * *" in
    Pacific/Chatham, whose clocks jump from 02:45 to 03:45. So when the UTC offset grows between two
    fire times, the first real hours after the jump are checked minute by minute.
    """
    if fire.utcoffset() <= after.utcoffset():
        return []
    # The instant of the jump: the first minute (UTC) at which the later offset applies.
    low, high = after.astimezone(UTC), fire.astimezone(UTC)
    while high - low > MINUTE:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == fire.utcoffset():
            high = middle
        else:
            low = middle
    matcher = CronSim(fields, after)
    # Compared in UTC: two datetimes of one zone compare by their wall clock readings, and ``after``
    # may be a reading the jump skipped (cronsim fires at the jump for a boundary inside it).
    moment, found, start = high.replace(second=0, microsecond=0), [], after.astimezone(UTC)
    while moment < min(fire.astimezone(UTC), high + GAP_SCAN):
        wall = moment.astimezone(zone)
        if (
            moment > start
            and wall.minute in matcher.minutes
            and wall.hour in matcher.hours
            and wall.month in matcher.months
            and matcher.match_day(wall.date())
        ):
            found.append(wall)
        moment += MINUTE
    return found


def interval_times(anchor: datetime, seconds: int, after: datetime) -> Iterator[datetime]:
    """Slots ``anchor + k * seconds`` (k >= 1) strictly after ``after``."""
    every = timedelta(seconds=seconds)
    k = max(1, (after - anchor) // every + 1)
    while True:
        yield anchor + every * k
        k += 1


def cron_times_before(expression: str, zone: zoneinfo.ZoneInfo, before: datetime) -> Iterator[datetime]:
    """Fire times of ``expression`` at or before ``before``, newest first.

    Only a seek for catching up after an outage (to start ``cron_times`` near the newest missed
    slots instead of walking every slot since the outage began); the slots themselves always come
    from ``cron_times``.
    """
    fields = parse_cron(expression).fields
    # cronsim's reverse mode yields times strictly before its start; one microsecond past ``before``
    # makes ``before`` itself count.
    return CronSim(" ".join(fields), (before + timedelta(microseconds=1)).astimezone(zone), reverse=True)


# --- a schedule as the API receives it ------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    """A checked schedule: a cron expression or an interval, and the zone it is evaluated in."""

    schedule_type: str
    timezone: str
    cron: CronExpression | None = None
    interval_seconds: int | None = None

    def preview(self, *, count: int, now: datetime) -> list[datetime]:
        """The next ``count`` fire times after ``now``, in the spec's zone; an interval is anchored
        where a job created now would be."""
        zone = parse_timezone(self.timezone)
        if self.cron is not None:
            times = cron_times(self.cron.source, zone, now)
        else:
            times = interval_times(whole_second_after(now), self.interval_seconds, now)
        return [moment.astimezone(zone) for moment in itertools.islice(times, count)]

    @property
    def description(self) -> str:
        if self.cron is not None:
            return describe_cron(self.cron.source)
        return describe_interval(self.interval_seconds)


def cron_spec(*, expression: str, timezone_name: str = "UTC") -> ScheduleSpec:
    parse_timezone(timezone_name)
    return ScheduleSpec(ScheduleType.CRON, timezone_name, cron=parse_cron(expression))


def interval_spec(*, hours: int = 0, minutes: int = 0, seconds: int = 0, timezone_name: str = "UTC") -> ScheduleSpec:
    parse_timezone(timezone_name)
    total = interval_seconds(hours=hours, minutes=minutes, seconds=seconds, minimum=settings.CRON_MIN_INTERVAL_SECONDS)
    return ScheduleSpec(ScheduleType.INTERVAL, timezone_name, interval_seconds=total)
