"""What every console screen builds on: the model view (times shown in the configured zone,
the database holds naive UTC, and money as ¥49.90 wherever a formatter asks for it), ids
read from URLs, and the tab a list screen shows."""
import datetime as dt

from flask_admin.contrib.peewee import ModelView
from flask_admin.model import typefmt
from peewee import IntegerField

from desk.core.times import format_local

TYPE_FORMATTERS = dict(typefmt.BASE_FORMATTERS)
TYPE_FORMATTERS[dt.datetime] = lambda view, value, name: format_local(value)

#: Ids are 32-bit integer columns; a larger number in a URL names no row.
MAX_ID = 2 ** 31 - 1


def parse_id(value):
    """A row id from a URL (`?id=`), or None when it cannot name a row: not a number,
    not positive, or too large (the databases raise on those instead of finding nothing)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def tab_of(args, tabs, name='state'):
    """The tab a list screen shows (its tab bar: templates/_tabs.html): `?state=` when it names
    one of `tabs`, else the first, the default."""
    value = args.get(name)
    return value if value in tabs else tabs[0]


class DeskModelView(ModelView):
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS

    def get_one(self, id):
        if isinstance(self.model._meta.primary_key, IntegerField):
            id = parse_id(id)
            if id is None:
                return None  # Flask-Admin answers "record does not exist"
        return super().get_one(id)

    def get_list(self, page, *args, **kwargs):
        # ?page=-1 became a negative OFFSET, which PostgreSQL refuses
        return super().get_list(max(page or 0, 0), *args, **kwargs)
