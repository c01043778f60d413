"""The model view every console screen builds on: times shown in the configured zone
(the database holds naive UTC) and money as ¥49.90 wherever a formatter asks for it."""
import datetime as dt

from flask_admin.contrib.peewee import ModelView
from flask_admin.model import typefmt

from desk.format import format_local

TYPE_FORMATTERS = dict(typefmt.BASE_FORMATTERS)
TYPE_FORMATTERS[dt.datetime] = lambda view, value, name: format_local(value)


class DeskModelView(ModelView):
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
