"""Tables of the agent desk: SLA policies and the business calendar (admin-editable), the
SLA clock of each target of each case with its event history, and per-department
assignment settings.

SLA outcomes are recorded as events (started, paused, resumed, warned, achieved, breached)
with the owner at that moment, not only as due dates, so per-agent SLA reports are exact.
"""
from peewee import AutoField, BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField

from desk.cases.models import Complaint
from desk.core import clock
from desk.core.db import BaseModel
from desk.parties.models import User

TARGETS = ('first_response', 'resolution')
SLA_EVENT_KINDS = ('started', 'paused', 'resumed', 'warned', 'achieved', 'breached')
ASSIGNMENT_MODES = ('manual', 'round_robin', 'least_loaded')


class SlaPolicy(BaseModel):
    """Targets per tier in seconds (SPEC §3); NULL means no target for that tier."""
    tier = CharField(max_length=2, primary_key=True)
    first_response_seconds = IntegerField(null=True)
    resolution_seconds = IntegerField(null=True)


class BusinessHours(BaseModel):
    """Opening hours per weekday (0 = Monday), local time; no rows at all means 24×7."""
    id = AutoField()
    weekday = IntegerField()
    opens = CharField(max_length=5)   # 'HH:MM'
    closes = CharField(max_length=5)  # 'HH:MM', after opens


class Holiday(BaseModel):
    """A date off (`holiday`) or a make-up working day on a weekend (`workday`, 调休)."""
    id = AutoField()
    date = DateField(unique=True)
    kind = CharField(max_length=8, default='holiday')
    name = CharField(max_length=100, default='')


class SlaClock(BaseModel):
    """One SLA target of one case: when it started, when it is due, pauses so far."""
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='sla_clocks', on_delete='CASCADE', index=False)  # (complaint, target)
    target = CharField(max_length=16)
    state = CharField(max_length=10, default='running')  # running, paused, achieved, breached
    started_at = DateTimeField()
    due_at = DateTimeField(null=True)
    paused_at = DateTimeField(null=True)
    paused_seconds = IntegerField(default=0)
    warned = BooleanField(default=False)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('complaint', 'target'), True),)


class SlaEvent(BaseModel):
    id = AutoField()
    complaint = ForeignKeyField(Complaint, backref='sla_events', on_delete='CASCADE')
    target = CharField(max_length=16)
    kind = CharField(max_length=10)
    at = DateTimeField(default=clock.now)
    owner = ForeignKeyField(User, null=True, backref='sla_events', on_delete='SET NULL', index=False)  # (owner, at)
    department = CharField(max_length=8)
    due_at = DateTimeField(null=True)


# The SLA compliance report reads the results (`achieved`, `breached`) of a period, by
# department or not; the other kinds — most events — get no entry. Per-agent lookups name
# the owner, so only owned cases' events are in the owner index (migration 0018).
SlaEvent.add_index(SlaEvent.index(SlaEvent.at, SlaEvent.department, name='sla_event_results',
                                  where=SlaEvent.kind.in_(('achieved', 'breached'))))
SlaEvent.add_index(SlaEvent.index(SlaEvent.owner, SlaEvent.at, name='slaevent_owner_id_at',
                                  where=SlaEvent.owner.is_null(False)))


class DepartmentSetting(BaseModel):
    """How a department's queue hands out cases, and the round-robin pointer."""
    department = CharField(max_length=8, primary_key=True)
    mode = CharField(max_length=16, default='manual')
    last_assigned_id = IntegerField(null=True)


MODELS = [SlaPolicy, BusinessHours, Holiday, SlaClock, SlaEvent, DepartmentSetting]
