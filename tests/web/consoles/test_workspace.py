"""The arbitration workspace (/admin/arbitration/<ticket_no>): both parties' evidence side by
side, requests and declarations, precedents, clauses, the ruling form limited to the allowed
actions; a fixed number of queries however much evidence and history a case has."""
import datetime as dt
import re

import pytest

from desk.cases.models import Ruling
from desk.core import clock
from desk.core.db import database
from tests import builders as b
from tests.conftest import T0
from tests.support import csrf_token, logged_in, page_text

HOUR = dt.timedelta(hours=1)
EVIDENCE = dt.timedelta(seconds=172800)  # the evidence period a claim opens


@pytest.fixture
def owner(users, frozen):
    return b.agent(users, 'arbiter', role='senior_agent')


def url(complaint):
    return f'/admin/arbitration/{complaint.ticket_no}'


def test_the_workspace_shows_both_sides_and_only_allowed_forms(app, owner):
    complaint = b.dispute('O-1', owner)
    b.forced_evidence(complaint, 'buyer', 'error_screenshot', text='充值失败截图说明')
    b.forced_evidence(complaint, 'merchant', 'delivery_log', text='2026-11-23 21:00 卡密已发放,21:05 已提取')
    b.dispute('O-2', None)  # a precedent: same merchant, same product (no SKU)
    client = logged_in(app, owner)
    response = client.get(url(complaint))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = page_text(response)
    assert '充值失败截图说明' in html and '卡密已发放' in html
    assert re.search(r'id="evidence-buyer".*充值失败截图说明', html, re.S)
    assert re.search(r'id="evidence-merchant".*卡密已发放', html, re.S)
    assert 'Evidence period open until 2026-11-26 10:00' in page
    assert 'id="request-form"' in html and 'id="rule-form"' not in html and 'id="close-form"' not in html
    assert 'evidence period is open until' in page  # why no ruling yet
    assert 'data-precedent="' in html and 'data-clause="R-DESC-01"' in html
    # without the evidence store's endpoints, files have no links (pasted text shows inline)
    assert '/evidence/' not in html


def test_ruling_from_the_workspace_form(app, owner):
    complaint = b.dispute('O-1', owner)
    clock.freeze(T0 + EVIDENCE + HOUR)
    client = logged_in(app, owner)
    html = client.get(url(complaint)).get_data(as_text=True)
    assert 'id="rule-form"' in html
    form = {'csrf_token': csrf_token(client, url(complaint)), 'outcome': 'buyer_partial',
            'responsibility': 'merchant', 'remedy_type': 'refund', 'remedy_amount': '200.00',
            'clause': 'R-DESC-01', 'reasoning': '面值不符'}
    refused = client.post(url(complaint) + '/act/rule', data=form)
    assert refused.status_code == 422
    assert 'at most 100.00' in page_text(refused)
    form['remedy_amount'] = '30.00'
    done = client.post(url(complaint) + '/act/rule', data=form)
    assert done.status_code == 302
    assert Ruling.get(Ruling.complaint == complaint.id).refund_fen == 3000
    page = client.get(url(complaint))
    assert 'id="ruling-1"' in page.get_data(as_text=True) and '面值不符' in page_text(page)


def test_parties_and_other_departments_cannot_open_it(app, owner, users):
    complaint = b.dispute('O-1', owner)
    other = b.agent(users, 'opsagent', department='ops')
    assert logged_in(app, other).get(url(complaint)).status_code == 404
    assert logged_in(app, b.buyer_login('b-1')).get(url(complaint)).status_code in (302, 403)


class QueryCounter:
    """Counts the calls of `execute_sql` in the block. Not `support.count_queries` (which
    counts peewee's DEBUG records): with the PostgreSQL pool, `peewee.pool` logs to the same
    logger tree, and this equality check must count statements only."""

    def __init__(self):
        self.count = 0

    def __enter__(self):
        original = database.obj.execute_sql
        self.original = original

        def counting(sql, params=None, *args, **kwargs):
            self.count += 1
            return original(sql, params, *args, **kwargs)
        database.obj.execute_sql = counting
        return self

    def __exit__(self, *exc):
        del database.obj.execute_sql  # the class's method again


def test_two_hundred_items_and_a_thousand_events_take_no_more_queries(app, owner):
    small = b.dispute('O-1', owner)
    big = b.forced_history(b.dispute('O-2', owner), items=200, events=1000)
    client = logged_in(app, owner)
    client.get(url(small))
    with QueryCounter() as few:
        assert client.get(url(small)).status_code == 200
    with QueryCounter() as many:
        response = client.get(url(big))
    assert response.status_code == 200
    assert response.get_data(as_text=True).count('data-evidence=') == 200
    assert many.count <= few.count + 2, (few.count, many.count)
