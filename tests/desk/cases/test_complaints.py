"""Filing a complaint through the API (SPEC §3, §3a, §9a): every refusal has its status and
names its field, and a filed complaint gets the path, tier, department, owner and deadlines
its category and order call for."""
import datetime as dt
import threading

import pytest

from desk.cases.models import Complaint, Event
from desk.core import clock
from desk.parties.models import Buyer
from tests import builders as b
from tests.conftest import T0
from tests.support import act, error, file_ok, post_complaint


@pytest.fixture
def buyer_headers(users, api_key):
    """API headers of the buyer b-1, who owns order O-1."""
    return api_key(b.buyer_user(users, 'b-1'))


@pytest.fixture
def o1(app):
    return b.order('O-1')


# --- bad input --------------------------------------------------------------------------

def test_unknown_order_is_404(client, buyer_headers, frozen):
    response = post_complaint(client, buyer_headers, order_no='NOPE-1')
    assert response.status_code == 404
    assert error(response)['code'] == 'not_found'


def test_another_buyers_order_answers_like_an_unknown_one(client, buyer_headers, frozen):
    b.order('O-2', buyer_ref='b-2')
    theirs = post_complaint(client, buyer_headers, order_no='O-2')
    unknown = post_complaint(client, buyer_headers, order_no='O-3')
    assert theirs.status_code == unknown.status_code == 404
    assert error(theirs)['message'].replace('O-2', '#') == error(unknown)['message'].replace('O-3', '#')
    assert Complaint.select().count() == 0


def test_second_open_complaint_on_an_order_is_409_with_the_open_ticket(client, buyer_headers, o1, frozen):
    first = file_ok(client, buyer_headers)
    again = post_complaint(client, buyer_headers, category='fake_delivery')
    assert again.status_code == 409
    assert error(again)['ticket_no'] == first['ticket_no']
    assert first['ticket_no'] in error(again)['message']
    assert Complaint.select().count() == 1


def test_a_withdrawn_complaint_does_not_block_a_new_one(client, buyer_headers, o1, frozen):
    first = file_ok(client, buyer_headers)
    assert act(client, buyer_headers, first['ticket_no'], 'withdraw').status_code == 200
    second = file_ok(client, buyer_headers)
    assert second['ticket_no'] != first['ticket_no']


@pytest.mark.parametrize('dates, base', [
    ({'delivered_at': T0 - dt.timedelta(days=19), 'confirmed_at': T0 - dt.timedelta(days=16)}, 'confirmed_at'),
    ({'delivered_at': T0 - dt.timedelta(days=16)}, 'delivered_at'),
    ({}, 'paid_at'),
])
def test_filing_after_the_window_is_422_with_the_date_it_closed(client, buyer_headers, frozen, dates, base):
    paid = T0 - dt.timedelta(days=20)
    order = b.order('O-1', paid_at=paid, **dates)
    closes = getattr(order, base) + dt.timedelta(days=15)
    response = post_complaint(client, buyer_headers)
    assert response.status_code == 422
    err = error(response)
    local = closes + dt.timedelta(hours=8)  # Asia/Shanghai
    assert err['closed_at'] == local.strftime('%Y-%m-%dT%H:%M:%S+08:00')
    assert local.strftime('%Y-%m-%d %H:%M') in err['message']
    assert 'order_no' in err['fields']


def test_the_window_is_open_until_the_last_second(client, buyer_headers, frozen):
    b.order('O-1', paid_at=T0 - dt.timedelta(days=20), confirmed_at=T0 - dt.timedelta(days=15))
    assert post_complaint(client, buyer_headers).status_code == 201


def test_an_agent_files_past_the_window_with_a_logged_reason(client, users, api_key, buyer_headers, frozen):
    b.order('O-1', paid_at=T0 - dt.timedelta(days=40), confirmed_at=T0 - dt.timedelta(days=30))
    agent = api_key(users('agent', department='cs'))
    without = post_complaint(client, agent)
    assert without.status_code == 422
    filed = file_ok(client, agent, override_reason='买家电话投诉,订单异常直到昨天才发现')
    complaint = Complaint.get(Complaint.ticket_no == filed['ticket_no'])
    assert complaint.override_reason.startswith('买家电话')
    assert complaint.channel == 'phone'
    logged = Event.get((Event.complaint == complaint.id) & (Event.kind == 'window_overridden'))
    assert not logged.public
    assert '买家电话投诉' in logged.data
    # the buyer sees the case but not the internal note about the override
    kinds = [e['kind'] for e in client.get(f'/api/v1/complaints/{filed["ticket_no"]}/events',
                                           headers=buyer_headers).get_json()['items']]
    assert kinds == ['filed']


def test_a_buyer_may_not_pass_the_window(client, buyer_headers, frozen):
    b.order('O-1', paid_at=T0 - dt.timedelta(days=40))
    response = post_complaint(client, buyer_headers, override_reason='please')
    assert response.status_code == 422
    assert 'override_reason' in error(response)['fields']


@pytest.mark.parametrize('category, field', [
    ('recharge_not_arrived', 'receiving_account'),
    ('recharge_not_arrived', 'minutes_late'),
    ('card_invalid', 'error_message'),
    ('refund_delay', 'refund_requested_at'),
    ('system_fault', 'occurred_at'),
])
def test_a_missing_scenario_field_is_named(client, buyer_headers, o1, frozen, category, field):
    data = b.body(category=category)
    del data['scenario'][field]
    response = client.post('/api/v1/complaints', json=data, headers=buyer_headers)
    assert response.status_code == 422
    assert f'scenario.{field}' in error(response)['fields']


@pytest.mark.parametrize('scenario, field', [
    ({'receiving_account': '138', 'minutes_late': 'soon'}, 'scenario.minutes_late'),
    ({'receiving_account': '138', 'minutes_late': -5}, 'scenario.minutes_late'),
    ({'receiving_account': '   ', 'minutes_late': 5}, 'scenario.receiving_account'),
    ('not an object', 'scenario'),
])
def test_a_malformed_scenario_is_422(client, buyer_headers, o1, frozen, scenario, field):
    response = post_complaint(client, buyer_headers, category='recharge_not_arrived', scenario=scenario)
    assert response.status_code == 422
    assert field in error(response)['fields']


def test_a_demand_above_the_order_amount_is_422(client, buyer_headers, o1, frozen):
    response = post_complaint(client, buyer_headers, demand={'type': 'partial_refund', 'amount': '49.91'})
    assert response.status_code == 422
    assert 'demand.amount' in error(response)['fields']
    assert post_complaint(client, buyer_headers, demand={'type': 'partial_refund', 'amount': '49.90'}).status_code == 201


def test_a_demand_amount_with_three_decimals_is_422(client, buyer_headers, o1, frozen):
    response = post_complaint(client, buyer_headers, demand={'type': 'compensation', 'amount': '1.005'})
    assert response.status_code == 422
    assert 'demand.amount' in error(response)['fields']


@pytest.mark.parametrize('demand', [
    None, {}, {'type': 'refund_everything'}, {'type': 'partial_refund'},
    {'type': 'compensation', 'amount': 3}, {'type': 'reissue', 'amount': '3.00'}, 'full_refund',
])
def test_a_malformed_demand_is_422(client, buyer_headers, o1, frozen, demand):
    response = post_complaint(client, buyer_headers, demand=demand)
    assert response.status_code == 422
    assert any(f.startswith('demand') for f in error(response)['fields'])


@pytest.mark.parametrize('facts', ['', '   ', 'x' * 5001, None, 42])
def test_facts_empty_or_over_5000_characters_is_422(client, buyer_headers, o1, frozen, facts):
    response = post_complaint(client, buyer_headers, facts=facts)
    assert response.status_code == 422
    assert 'facts' in error(response)['fields']


def test_facts_of_exactly_5000_characters_are_accepted(client, buyer_headers, o1, frozen):
    assert post_complaint(client, buyer_headers, facts='事' * 5000).status_code == 201


@pytest.mark.parametrize('category', ['no_such_category', '', None, 7])
def test_an_unknown_category_is_422(client, buyer_headers, o1, frozen, category):
    response = post_complaint(client, buyer_headers, category=category)
    assert response.status_code == 422
    assert 'category' in error(response)['fields']


def test_an_inactive_category_is_refused(client, buyer_headers, o1, frozen):
    from desk.cases.models import Category
    Category.update(active=False).where(Category.code == 'not_as_described').execute()
    response = post_complaint(client, buyer_headers)
    assert response.status_code == 422
    assert 'category' in error(response)['fields']


def test_an_unknown_basis_clause_is_422(client, buyer_headers, o1, frozen):
    response = post_complaint(client, buyer_headers, basis='R-NOPE-99')
    assert response.status_code == 422
    assert 'basis' in error(response)['fields']
    filed = file_ok(client, buyer_headers, basis='R-DESC-01')
    assert filed['basis'] == 'R-DESC-01'


@pytest.mark.parametrize('payload', [
    {'channel': 'fax'}, {'external': ['cctv']}, {'external': '12315'}, {'order_no': ''},
    {'order_no': ['O-1']}, {'basis': ['R-DESC-01']}, {'category': {'code': 'inquiry'}},
])
def test_other_bad_fields_are_422_never_500(client, buyer_headers, o1, frozen, payload):
    response = post_complaint(client, buyer_headers, **payload)
    assert response.status_code == 422, response.get_json()


@pytest.mark.parametrize('raw, content_type', [
    ('not json', 'application/json'), ('[1, 2]', 'application/json'), ('order_no=O-1', 'text/plain'),
])
def test_a_body_that_is_not_a_json_object_is_422(client, buyer_headers, o1, raw, content_type):
    response = client.post('/api/v1/complaints', data=raw, content_type=content_type,
                           headers=buyer_headers)
    assert response.status_code == 422


def test_edit_within_24_hours_then_409(client, buyer_headers, o1, frozen):
    ticket = file_ok(client, buyer_headers)['ticket_no']
    clock.advance(hours=24)
    edited = act(client, buyer_headers, ticket, 'edit', {'facts': '补充:到账 50 元。'})
    assert edited.status_code == 200
    assert edited.get_json()['facts'] == '补充:到账 50 元。'
    clock.advance(seconds=1)
    late = act(client, buyer_headers, ticket, 'edit', {'facts': '再次修改'})
    assert late.status_code == 409
    assert 'edit' not in client.get(f'/api/v1/complaints/{ticket}',
                                    headers=buyer_headers).get_json()['allowed_actions']
    assert Complaint.get(Complaint.ticket_no == ticket).facts == '补充:到账 50 元。'


def test_withdraw_after_a_ruling_is_409(client, buyer_headers, o1, frozen):
    ticket = file_ok(client, buyer_headers)['ticket_no']
    b.force_state(ticket, 'resolved')
    response = act(client, buyer_headers, ticket, 'withdraw')
    assert response.status_code == 409
    assert Complaint.get(Complaint.ticket_no == ticket).state == 'resolved'


@pytest.mark.parametrize('reason', [7, ['x'], '理由' * 251])
def test_a_bad_withdrawal_reason_is_422_and_the_complaint_stays_open(client, buyer_headers, o1, frozen, reason):
    ticket = file_ok(client, buyer_headers)['ticket_no']
    response = act(client, buyer_headers, ticket, 'withdraw', {'reason': reason})
    assert response.status_code == 422
    assert 'reason' in error(response)['fields']
    assert Complaint.get(Complaint.ticket_no == ticket).state != 'withdrawn'


@pytest.mark.parametrize('reason', [42, 'x' * 501])
def test_a_bad_override_reason_is_422_naming_it(client, users, api_key, frozen, reason):
    b.order('O-1', paid_at=T0 - dt.timedelta(days=40), confirmed_at=T0 - dt.timedelta(days=30))
    agent = api_key(users('agent', department='cs'))
    response = post_complaint(client, agent, override_reason=reason)
    assert response.status_code == 422
    assert 'override_reason' in error(response)['fields']
    assert Complaint.select().count() == 0


def test_an_action_not_in_the_table_is_404(client, buyer_headers, o1, frozen):
    ticket = file_ok(client, buyer_headers)['ticket_no']
    for action in ('teleport', 'file'):
        response = act(client, buyer_headers, ticket, action)
        assert response.status_code == 404, action


@pytest.mark.parametrize('who, action', [
    ('buyer', 'claim'), ('buyer', 'propose'), ('buyer', 'merchant_timeout'),
    ('merchant', 'withdraw'), ('merchant', 'edit'), ('merchant', 'accept'),
])
def test_an_action_the_role_may_never_take_is_403(client, users, api_key, buyer_headers, o1, frozen,
                                                 who, action):
    ticket = file_ok(client, buyer_headers)['ticket_no']
    headers = buyer_headers if who == 'buyer' else api_key(b.staff_user(users, 'm-1'))
    response = act(client, headers, ticket, action)
    assert response.status_code == 403
    assert Complaint.get(Complaint.ticket_no == ticket).state == 'negotiating'


def test_two_identical_filings_at_once_make_one_complaint(app, buyer_headers, o1, monkeypatch):
    """Both requests pass the "no open complaint yet" check before either inserts (a barrier
    holds them there); the partial unique index decides. The loser answers 409 with the
    winner's ticket — on SQLite too, never a 500 ("database is locked")."""
    from desk.cases import complaints
    real_check = complaints._open_complaint
    barrier = threading.Barrier(2, timeout=20)
    seen = threading.local()

    def racing_check(order):
        found = real_check(order)
        if not getattr(seen, 'once', False):  # the pre-check; the lookup after the clash is real
            seen.once = True
            barrier.wait()
        return found

    monkeypatch.setattr(complaints, '_open_complaint', racing_check)
    data = b.body()
    results = []

    def post():
        response = app.test_client().post('/api/v1/complaints', json=data, headers=buyer_headers)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _ in results) == [201, 409], results
    created = next(body for status, body in results if status == 201)
    refused = next(body for status, body in results if status == 409)
    assert refused['error']['ticket_no'] == created['ticket_no']
    assert Complaint.select().count() == 1
    assert Event.select().count() == 1


# --- tier and routing -------------------------------------------------------------------

@pytest.mark.parametrize('category, path, state, department, tier', [
    ('recharge_not_arrived', 'merchant', 'negotiating', 'cs', 'L2'),
    ('card_invalid', 'merchant', 'negotiating', 'cs', 'L2'),
    ('not_as_described', 'merchant', 'negotiating', 'cs', 'L2'),
    ('fake_delivery', 'merchant', 'negotiating', 'ops', 'L2'),
    ('refund_delay', 'merchant', 'negotiating', 'cs', 'L2'),
    ('account_security', 'platform', 'pending_agent', 'ops', 'L1'),
    ('system_fault', 'platform', 'pending_agent', 'tech', 'L1'),
    ('service_attitude', 'platform', 'pending_agent', 'cs', 'L2'),
    ('inquiry', 'self_service', 'self_service', 'cs', 'L3'),
])
def test_each_default_category_routes_as_the_table_says(client, buyer_headers, o1, frozen,
                                                        category, path, state, department, tier):
    filed = file_ok(client, buyer_headers, category=category)
    assert (filed['state'], filed['department'], filed['tier']) == (state, department, tier)
    assert Complaint.get(Complaint.ticket_no == filed['ticket_no']).path == path
    assert filed['category'] == category
    assert set(filed['scenario']) == set(b.SCENARIOS.get(category, {}))


@pytest.mark.parametrize('amount_fen, tier', [(499999, 'L2'), (500000, 'L1'), (900000, 'L1')])
def test_a_large_amount_makes_the_case_l1(client, buyer_headers, frozen, amount_fen, tier):
    b.order('O-1', amount_fen=amount_fen)
    assert file_ok(client, buyer_headers)['tier'] == tier


@pytest.mark.parametrize('amount_fen, needed', [(49999, False), (50000, True), (120000, True)])
def test_from_500_yuan_a_payment_proof_is_needed(client, buyer_headers, frozen, amount_fen, needed):
    b.order('O-1', amount_fen=amount_fen)
    ticket = file_ok(client, buyer_headers)['ticket_no']
    assert Complaint.get(Complaint.ticket_no == ticket).needs_payment_proof is needed


def test_a_complaint_also_filed_with_12315_gets_priority(client, buyer_headers, frozen):
    b.order('O-1')
    b.order('O-2')
    plain = file_ok(client, buyer_headers, order_no='O-1')
    external = file_ok(client, buyer_headers, order_no='O-2', external=['12315'])
    assert plain['priority'] == 0 and plain['external'] == []
    assert external['priority'] > plain['priority']
    assert external['external'] == ['12315']
    assert Complaint.get(Complaint.ticket_no == external['ticket_no']).external_12315


def _file_n(client, headers, n, start=1):
    tickets = []
    for i in range(start, start + n):
        b.order(f'O-{i}')
        tickets.append(file_ok(client, headers, order_no=f'O-{i}'))
    return tickets


def test_the_third_complaint_within_30_days_gets_the_dedicated_agent(client, users, api_key,
                                                                      buyer_headers, frozen):
    agent = users('agent', department='ops')
    Buyer.update(dedicated_agent_id=agent.id).where(Buyer.ref == 'b-1').execute()
    first, second = _file_n(client, buyer_headers, 2)
    assert first['owner'] is None and second['owner'] is None
    clock.advance(days=29)
    third = _file_n(client, buyer_headers, 1, start=3)[0]
    assert third['owner'] == agent.username
    # the dedicated agent sees the case although it sits in another department's queue
    assert third['department'] == 'cs'
    read = client.get(f'/api/v1/complaints/{third["ticket_no"]}', headers=api_key(agent))
    assert read.status_code == 200


def test_no_dedicated_owner_when_none_is_set(client, buyer_headers, frozen):
    tickets = _file_n(client, buyer_headers, 3)
    assert [t['owner'] for t in tickets] == [None, None, None]


def test_no_dedicated_owner_when_the_earlier_complaints_are_older_than_30_days(client, users,
                                                                              buyer_headers, frozen):
    agent = users('agent')
    Buyer.update(dedicated_agent_id=agent.id).where(Buyer.ref == 'b-1').execute()
    _file_n(client, buyer_headers, 2)
    clock.advance(days=30, seconds=1)
    third = _file_n(client, buyer_headers, 1, start=3)[0]
    assert third['owner'] is None


def test_merchant_path_gives_the_merchant_24_hours(client, buyer_headers, o1, frozen):
    filed = file_ok(client, buyer_headers)
    assert filed['deadlines'] == {'merchant_due': '2026-11-25T10:00:00+08:00',
                                  'edit_until': '2026-11-25T10:00:00+08:00'}
    assert filed['promised_by'] == '2026-11-25T10:00:00+08:00'


def test_the_merchant_window_follows_the_setting(app, client, buyer_headers, o1, frozen, monkeypatch):
    monkeypatch.setitem(app.config, 'MERCHANT_RESPONSE_SECONDS', 3600)
    filed = file_ok(client, buyer_headers)
    assert filed['deadlines']['merchant_due'] == '2026-11-24T11:00:00+08:00'


@pytest.mark.parametrize('category, amount_fen, first, resolution', [
    ('account_security', 4990, '2026-11-24T10:30:00+08:00', '2026-11-24T14:00:00+08:00'),
    ('service_attitude', 4990, '2026-11-24T12:00:00+08:00', '2026-11-25T10:00:00+08:00'),
    ('service_attitude', 500000, '2026-11-24T10:30:00+08:00', '2026-11-24T14:00:00+08:00'),
])
def test_platform_path_sets_the_sla_targets_of_its_tier(client, buyer_headers, frozen,
                                                        category, amount_fen, first, resolution):
    b.order('O-1', amount_fen=amount_fen)
    deadlines = file_ok(client, buyer_headers, category=category)['deadlines']
    assert deadlines == {'first_response_due': first, 'resolution_due': resolution,
                         'edit_until': '2026-11-25T10:00:00+08:00'}


def test_ticket_numbers_increase_and_sort_with_the_shanghai_date(client, buyer_headers, frozen):
    clock.freeze(dt.datetime(2026, 11, 24, 15, 59, 58))  # 23:59:58 in Shanghai
    first, second = _file_n(client, buyer_headers, 2)
    clock.advance(seconds=3)                                # 00:00:01 on the 25th in Shanghai
    third, fourth = _file_n(client, buyer_headers, 2, start=3)
    numbers = [t['ticket_no'] for t in (first, second, third, fourth)]
    assert numbers == ['TS20261124-000001', 'TS20261124-000002',
                       'TS20261125-000001', 'TS20261125-000002']
    assert numbers == sorted(numbers)


def test_self_service_inquiry_helped_closes_it(client, buyer_headers, o1, frozen):
    filed = file_ok(client, buyer_headers, category='inquiry')
    assert filed['state'] == 'self_service'
    assert set(filed['allowed_actions']) >= {'helped', 'not_helped'}
    done = act(client, buyer_headers, filed['ticket_no'], 'helped')
    assert done.status_code == 200
    assert done.get_json()['state'] == 'closed'
    assert done.get_json()['allowed_actions'] == []


def test_self_service_inquiry_not_helped_goes_to_an_agent_at_l2(client, buyer_headers, o1, frozen):
    filed = file_ok(client, buyer_headers, category='inquiry')
    clock.advance(minutes=10)
    moved = act(client, buyer_headers, filed['ticket_no'], 'not_helped').get_json()
    assert (moved['state'], moved['tier']) == ('pending_agent', 'L2')
    assert moved['deadlines']['first_response_due'] == '2026-11-24T12:10:00+08:00'
    assert moved['deadlines']['resolution_due'] == '2026-11-25T10:10:00+08:00'
    again = act(client, buyer_headers, filed['ticket_no'], 'helped')
    assert again.status_code == 409


def test_a_nul_in_the_facts_or_a_message_is_422_from_the_service_itself(users, o1, frozen):
    """The API refuses NUL in any JSON body; the portal and console forms reach the services."""
    from desk.cases import complaints
    from desk.core.errors import Invalid
    buyer = b.buyer_user(users, 'b-1')
    with pytest.raises(Invalid) as err:
        complaints.file_complaint(buyer, b.body('O-1', facts='面值不符\x00'))
    assert err.value.status == 422 and set(err.value.fields) == {'facts'}
    filed = Complaint.get_by_id(complaints.file_complaint(buyer, b.body('O-1')).id)
    with pytest.raises(Invalid) as err:
        complaints.post_message(buyer, filed, {'body': '你好\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'body'}
