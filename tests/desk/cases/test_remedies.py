"""Remedies (SPEC §4, §9): created when a proposal is accepted, announced by the
`remedy.created` webhook, confirmed by the marketplace idempotently, and escalated to the
supervisors when nobody confirms them within 24 hours."""
import datetime as dt
import json

import pytest

from desk.cases import remedies
from desk.cases.models import Event, Remedy
from desk.core import clock, deadlines
from desk.core.errors import Invalid
from desk.messaging import webhooks
from desk.messaging.models import InboxMessage, Outbox
from desk.messaging.notifications import render
from tests.arbitration.test_negotiation import case, parties, propose  # noqa: F401  (parties: a fixture)
from tests.support import act, error, file_ok, ok
from tests.webhook_receiver import closed_port_url

HOUR = dt.timedelta(hours=1)


def webhook_events(name):
    rows = Outbox.select().where(Outbox.topic == 'webhook').order_by(Outbox.id)
    return [json.loads(r.payload) for r in rows if json.loads(r.payload)['event'] == name]


@pytest.fixture
def remedy(client, parties, subscribed, frozen):  # noqa: F811
    """A 20.00 refund the buyer agreed to, on a complaint filed at T0."""
    ticket = file_ok(client, parties['buyer'])['ticket_no']
    ok(propose(client, parties, ticket, amount='20.00'))
    ok(act(client, parties['buyer'], ticket, 'accept'))
    return Remedy.get(Remedy.complaint == case(ticket).id)


@pytest.fixture
def integration(users, api_key):
    return api_key(users('integration'))


@pytest.fixture
def subscribed(users):
    """The marketplace subscribes to every event (at an address nobody answers: the
    deliveries fail and wait for their retry; these tests read the outbox)."""
    webhooks.subscribe(users('integration', username='marketplace'), closed_port_url(), ['*'])


def confirm(client, headers, remedy_id):
    return client.post(f'/api/v1/remedies/{remedy_id}/confirm', headers=headers)


def test_an_accepted_proposal_creates_a_remedy_and_announces_it(remedy):
    assert (remedy.kind, remedy.amount_fen, remedy.source, remedy.state) == ('refund', 2000, 'agreement', 'pending')
    assert remedy.confirm_due_at == remedy.created_at + 24 * HOUR
    (created,) = webhook_events('remedy.created')
    assert created['key'] == remedy.idempotency_key
    assert created['data'] == remedies.remedy_payload(remedy)
    assert created['data']['amount'] == '20.00' and created['data']['order_no'] == 'O-1'


def test_confirming_twice_is_one_confirmation(client, remedy, integration):
    clock.advance(hours=1)
    first = ok(confirm(client, integration, remedy.id))
    assert first['state'] == 'confirmed'
    assert first['confirmed_at'] == '2026-11-24T11:00:00+08:00'
    clock.advance(hours=1)
    second = ok(confirm(client, integration, remedy.id))
    assert second == first
    assert len(webhook_events('remedy.confirmed')) == 1
    assert webhook_events('remedy.confirmed')[0]['key'] == f'{remedy.idempotency_key}-confirmed'
    timeline = Event.select().where((Event.complaint == remedy.complaint_id) & (Event.kind == 'remedy_confirmed'))
    assert timeline.count() == 1
    assert Remedy.get_by_id(remedy.id).confirm_due_at is None


def test_only_the_integration_or_an_admin_confirms(client, parties, remedy, users, api_key):  # noqa: F811
    assert error(confirm(client, parties['buyer'], remedy.id), 403)
    assert error(confirm(client, parties['merchant'], remedy.id), 403)
    assert error(confirm(client, api_key(users('supervisor')), remedy.id), 403)
    assert Remedy.get_by_id(remedy.id).state == 'pending'
    assert ok(confirm(client, api_key(users('admin')), remedy.id))['state'] == 'confirmed'


def test_an_unknown_remedy_is_404(client, integration, app):
    assert error(confirm(client, integration, 424242), 404)['code'] == 'not_found'


def test_unconfirmed_after_24_hours_alerts_the_supervisors_once(client, remedy, users, integration):
    supervisors = [users('supervisor'), users('supervisor')]
    retired = users('supervisor')
    retired.active = False
    retired.save()
    created = remedy.created_at

    clock.freeze(created + 24 * HOUR - dt.timedelta(seconds=1))
    deadlines.advance_due()
    assert InboxMessage.select().where(InboxMessage.user.in_([s.id for s in supervisors])).count() == 0

    clock.freeze(created + 24 * HOUR)
    deadlines.advance_due()
    for supervisor in supervisors:
        (alert,) = InboxMessage.select().where(InboxMessage.user == supervisor.id)
        assert (alert.title, alert.body) == render('remedy_unconfirmed',
                                                   {'ticket': case_ticket(remedy), 'remedy': remedy.id}, 'zh')
        assert case_ticket(remedy) in alert.title
    assert InboxMessage.select().where(InboxMessage.user == retired.id).count() == 0

    clock.freeze(created + 72 * HOUR)
    deadlines.advance_due()
    deadlines.apply_one('remedy_confirm', remedy.id)
    for supervisor in supervisors:
        assert InboxMessage.select().where(InboxMessage.user == supervisor.id).count() == 1
    assert ok(confirm(client, integration, remedy.id))['state'] == 'confirmed'   # late is still fine


def test_a_confirmed_remedy_raises_no_alert(client, remedy, users, integration):
    supervisor = users('supervisor')
    ok(confirm(client, integration, remedy.id))
    clock.freeze(remedy.created_at + 48 * HOUR)
    deadlines.advance_due()
    assert InboxMessage.select().where(InboxMessage.user == supervisor.id).count() == 0


def test_the_service_refuses_refunds_beyond_what_is_left(remedy):
    complaint = remedy.complaint
    order = complaint.order
    assert remedies.refundable(order) == 4990 - 2000
    for amount in (0, -1, None, 2991):
        with pytest.raises(Invalid) as refused:
            remedies.create(complaint, 'refund', amount, 'ruling')
        assert refused.value.fields.keys() == {'amount'} and '29.90' in refused.value.fields['amount']
    remedies.create(complaint, 'refund', 2990, 'ruling')
    assert remedies.refundable(order) == 0
    with pytest.raises(Invalid):
        remedies.create(complaint, 'refund', 1, 'ruling')
    # a reissue or a compensation is not a refund and does not count against the cap
    remedies.create(complaint, 'reissue', None, 'ruling')
    remedies.create(complaint, 'compensation', 500, 'ruling')
    assert remedies.refunded_fen(order.id) == 4990


def case_ticket(remedy):
    return remedy.complaint.ticket_no
