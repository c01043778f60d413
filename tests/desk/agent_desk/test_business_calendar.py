"""Business time (SPEC §3): with no opening hours the desk runs 24×7; with them only opening
hours count, holidays count nothing and a make-up working day (调休) on a weekend counts with
Monday's hours. Hours are local (Asia/Shanghai, UTC+8); the desk's datetimes are naive UTC.

The week used: Tue 2026-11-24 … Fri 11-27, Sat 11-28, Sun 11-29, Mon 11-30, Tue 12-01.
"""
import datetime as dt
import functools
import itertools

import pytest

from desk.agent_desk.business_calendar import Calendar
from desk.agent_desk.models import BusinessHours, Holiday
from tests.support import shanghai

#: local(day, hour, minute=0): Beijing wall time on day `day` of November 2026 (31 = Dec 1)
local = functools.partial(shanghai, 2026, 11)

HOUR = 3600


def office_hours(opens='09:00', closes='18:00', weekdays=range(5)):
    for weekday in weekdays:
        BusinessHours.create(weekday=weekday, opens=opens, closes=closes)


@pytest.fixture
def weekdays_9_to_6(app):
    office_hours()
    return Calendar.load()


def test_without_opening_hours_the_desk_runs_around_the_clock(app):
    calendar = Calendar.load()
    start = local(28, 23, 30)  # a Saturday night
    assert calendar.always_open
    assert calendar.add(start, 2 * HOUR) == start + dt.timedelta(hours=2)
    assert calendar.between(start, start + dt.timedelta(hours=30)) == 30 * HOUR


@pytest.mark.parametrize('start, seconds, due', [
    (local(24, 10), 2 * HOUR, local(24, 12)),            # inside one day
    (local(24, 16), 2 * HOUR, local(24, 18)),            # ends exactly at closing time
    (local(24, 7), HOUR, local(24, 10)),                 # before opening: counts from 09:00
    (local(24, 19), HOUR, local(25, 10)),                # after closing: the next morning
    (local(24, 17), 2 * HOUR, local(25, 10)),            # overnight: 1 h today, 1 h tomorrow
    (local(27, 17), 2 * HOUR, local(30, 10)),            # Friday evening -> Monday morning
    (local(28, 12), HOUR, local(30, 10)),                # filed on Saturday
    (local(27, 10), 18 * HOUR, local(31, 10)),           # Fri 8 h + Mon 9 h + Tue 1 h
])
def test_adding_business_time(weekdays_9_to_6, start, seconds, due):
    assert weekdays_9_to_6.add(start, seconds) == due


def test_a_holiday_counts_nothing(app):
    office_hours()
    Holiday.create(date=dt.date(2026, 11, 30), kind='holiday', name='公司假日')
    calendar = Calendar.load()
    assert calendar.add(local(27, 17), 2 * HOUR) == local(31, 10)  # Fri 1 h, Monday off, Tue 1 h
    assert calendar.between(local(27, 9), local(31, 18)) == 18 * HOUR


def test_a_make_up_working_day_counts_with_mondays_hours(app):
    office_hours('09:00', '18:00', weekdays=range(1, 5))
    office_hours('10:00', '16:00', weekdays=[0])  # Mondays are short here
    Holiday.create(date=dt.date(2026, 11, 28), kind='workday', name='调休上班')
    calendar = Calendar.load()
    # Friday 17:00-18:00, then Saturday opens at Monday's 10:00
    assert calendar.add(local(27, 17), 2 * HOUR) == local(28, 11)
    assert calendar.between(local(28, 0), local(29, 0)) == 6 * HOUR
    assert calendar.between(local(29, 0), local(30, 0)) == 0  # Sunday stays off


def test_a_day_with_a_lunch_break(app):
    office_hours('09:00', '12:00')
    office_hours('13:30', '18:00')
    calendar = Calendar.load()
    assert calendar.add(local(24, 11), 2 * HOUR) == local(24, 14, 30)
    assert calendar.between(local(24, 8), local(24, 20)) == 7 * HOUR + 30 * 60


@pytest.mark.parametrize('start, end, seconds', [
    (local(27, 17), local(30, 10), 2 * HOUR),   # across the weekend
    (local(28, 9), local(29, 18), 0),           # the weekend alone
    (local(24, 12), local(24, 12), 0),
    (local(24, 12), local(24, 11), 0),          # end before start
    (local(24, 0), local(25, 0), 9 * HOUR),
])
def test_counting_business_time_between_two_moments(weekdays_9_to_6, start, end, seconds):
    assert weekdays_9_to_6.between(start, end) == seconds


def test_adding_then_counting_gives_back_the_same_seconds(app):
    """`between(start, add(start, s)) == s` from any moment, across holidays and 调休."""
    office_hours('09:00', '12:00')
    office_hours('13:30', '18:00')
    Holiday.create(date=dt.date(2026, 11, 26), kind='holiday')
    Holiday.create(date=dt.date(2026, 11, 29), kind='workday')
    calendar = Calendar.load()
    starts = [local(23, 0) + dt.timedelta(minutes=97 * i) for i in range(120)]  # ~8 days
    amounts = [1, 59, 30 * 60, 2 * HOUR, 4 * HOUR + 1, 24 * HOUR, 40 * HOUR]
    for start, seconds in itertools.product(starts, amounts):
        due = calendar.add(start, seconds)
        assert due > start
        assert calendar.between(start, due) == seconds, (start, seconds, due)


def test_a_target_beyond_any_business_time_is_a_configuration_error(app):
    one_minute_on_mondays = Calendar({0: [(dt.time(9, 0), dt.time(9, 1))]}, {})
    with pytest.raises(ValueError, match='business hours'):
        one_minute_on_mondays.add(dt.datetime(2026, 11, 24), 10 ** 7)
