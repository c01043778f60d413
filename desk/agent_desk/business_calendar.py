"""Business time: adding working seconds to a moment, and counting them between two.

With no `BusinessHours` rows the desk runs 24×7 and this is plain arithmetic. Otherwise
only the opening hours of each weekday count, holidays count nothing, and a make-up working
day (调休, a `Holiday` of kind `workday` on a weekend) counts with Monday's hours. Hours are
local to `DESK_TIMEZONE`; the desk's datetimes are naive UTC.
"""
import datetime as dt

from desk.agent_desk.models import BusinessHours, Holiday
from desk.core.times import zone

MAX_DAYS = 800  # a target further than this in business time is a configuration error


class Calendar:
    def __init__(self, hours, holidays):
        self.hours = hours          # weekday -> [(opens, closes)] as time objects
        self.holidays = holidays    # date -> 'holiday' | 'workday'

    @classmethod
    def load(cls):
        hours = {}
        for row in BusinessHours.select():
            hours.setdefault(row.weekday, []).append((_time(row.opens), _time(row.closes)))
        for spans in hours.values():
            spans.sort()
        holidays = {row.date: row.kind for row in Holiday.select()}
        return cls(hours, holidays)

    @property
    def always_open(self):
        return not self.hours

    def _spans(self, day):
        """The opening spans of a local date as local naive datetimes."""
        kind = self.holidays.get(day)
        if kind == 'holiday':
            return []
        weekday = 0 if kind == 'workday' and day.weekday() >= 5 else day.weekday()
        return [(dt.datetime.combine(day, a), dt.datetime.combine(day, b))
                for a, b in self.hours.get(weekday, [])]

    def add(self, start, seconds):
        """The moment `seconds` of business time after `start` (naive UTC in and out)."""
        if self.always_open:
            return start + dt.timedelta(seconds=seconds)
        local = _to_local(start)
        remaining = dt.timedelta(seconds=seconds)
        day = local.date()
        for _ in range(MAX_DAYS):
            for opens, closes in self._spans(day):
                begin = max(opens, local)
                if begin >= closes:
                    continue
                if begin + remaining <= closes:
                    return _to_utc(begin + remaining)
                remaining -= closes - begin
            day += dt.timedelta(days=1)
        raise ValueError('no business time within %d days; check the business hours' % MAX_DAYS)

    def between(self, start, end):
        """Business seconds from `start` to `end` (0 when end <= start)."""
        if end <= start:
            return 0
        if self.always_open:
            return int((end - start).total_seconds())
        a, b = _to_local(start), _to_local(end)
        total = dt.timedelta()
        day = a.date()
        while day <= b.date():
            for opens, closes in self._spans(day):
                lo, hi = max(opens, a), min(closes, b)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return int(total.total_seconds())


def _time(text):
    hours, minutes = text.split(':')
    return dt.time(int(hours), int(minutes))


def _to_local(utc_naive):
    return utc_naive.replace(tzinfo=dt.timezone.utc).astimezone(zone()).replace(tzinfo=None)


def _to_utc(local_naive):
    return local_naive.replace(tzinfo=zone()).astimezone(dt.timezone.utc).replace(tzinfo=None)
