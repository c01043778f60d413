"""The agent desk screens of the staff backoffice, driven through the test client: who may
open which page, the queue's order, filters, counts and keyset pages, claiming, the case
workspace (timeline, internal notes, actions), the SLA board and its CSV export, filing for
a buyer on the phone and the agent's status in the header."""
import csv
import datetime as dt
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from desk.agent_desk import sla
from desk.agent_desk.models import SlaEvent
from desk.cases.models import Complaint, Event
from desk.core import clock
from desk.parties.models import Buyer, User
from tests import builders as b
from tests.conftest import T0
from tests.support import csrf_token, isolated_client, logged_in, page_text, post_form

ROLES = ('buyer', 'merchant_staff', 'agent', 'senior_agent', 'supervisor', 'admin', 'integration')
AGENT_ROLES = ('agent', 'senior_agent')
STAFF = ('agent', 'senior_agent', 'supervisor', 'admin')
#: page -> roles that may open it (everyone else: 403, anonymous: the login page)
PAGES = {
    '/admin/queue/': STAFF,
    '/admin/my-cases/': AGENT_ROLES,
    '/admin/file-for-buyer/': ('agent', 'senior_agent', 'supervisor'),
    '/admin/sla/': ('supervisor', 'admin'),
}


# --- builders -------------------------------------------------------------------------------

def tickets_on(response):
    """Ticket numbers of the queue table's rows, in page order."""
    return re.findall(r'<tr data-ticket="([^"]+)"', response.get_data(as_text=True))


def flashed(client, url):
    return page_text(client.get(url))


def overdue(complaint):
    """Move the clock past the case's first-response target and let the sweep see it."""
    complaint = b.reload(complaint)
    clock.freeze(complaint.first_response_due_at + dt.timedelta(seconds=1))
    sla.check_due(complaint.id, clock.now())
    return b.reload(complaint)


# --- access ------------------------------------------------------------------------------------

@pytest.mark.parametrize('path', list(PAGES) + ['/admin/case/TS20261124-000001'])
def test_anonymous_is_sent_to_log_in(app, path):
    response = isolated_client(app).get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers['Location'])
    assert location.path == '/login' and parse_qs(location.query)['next'] == [path]


@pytest.mark.parametrize('role', ROLES)
def test_pages_by_role(app, users, frozen, role):
    complaint = b.case('O-ACCESS')  # cs, which is where agents are by default
    client = logged_in(app, b.person(users, role))
    for path, allowed in dict(PAGES, **{f'/admin/case/{complaint.ticket_no}': STAFF}).items():
        response = client.get(path)
        if role in allowed:
            assert response.status_code == 200, (path, response.status_code)
        else:
            assert response.status_code == 403, (path, response.status_code)
            assert 'Your account may not open this page.' in page_text(response)


@pytest.mark.parametrize('role', STAFF)
def test_menu_shows_each_role_its_desk_pages(app, users, role):
    html = logged_in(app, b.person(users, role)).get('/admin/').get_data(as_text=True)
    expected = {path for path, allowed in PAGES.items() if role in allowed}
    for path in PAGES:
        assert (f'href="{path}"' in html) == (path in expected), path
    assert 'href="/admin/case/"' not in html and 'href="/admin/agent-status/"' not in html


def test_agent_of_another_department_cannot_open_or_claim(app, users, frozen):
    complaint = b.case('O-CS')
    outsider = users('agent', username='ops1', department='ops')
    client = logged_in(app, outsider)
    assert client.get(f'/admin/case/{complaint.ticket_no}').status_code == 404
    assert complaint.ticket_no not in client.get('/admin/queue/').get_data(as_text=True)
    for url in (f'/admin/queue/claim/{complaint.ticket_no}', f'/admin/case/{complaint.ticket_no}/act/claim',
                f'/admin/case/{complaint.ticket_no}/message'):
        response = post_form(client, url, {'body': 'hi'}, page='/admin/queue/')
        assert response.status_code == 404, url
    assert b.reload(complaint).owner_id is None
    assert b.reload(complaint).state == 'pending_agent'
    # nor the other department's queue
    assert client.get('/admin/queue/?department=cs').status_code == 403


def test_unknown_case_is_404_not_500(app, users):
    client = logged_in(app, users('supervisor'))
    assert client.get('/admin/case/TS20991231-999999').status_code == 404
    assert client.get('/admin/case/' + 'x' * 500).status_code == 404


# --- the queue ---------------------------------------------------------------------------------

@pytest.fixture
def queue_cases(app, frozen):
    """Five cs cases: one overdue L2, two L1 (large amounts), two L2 filed later."""
    made = {}
    made['late_l2'] = b.case('O-1')
    clock.advance(minutes=1)
    made['l1_a'] = b.case('O-2', amount_fen=600000)
    clock.advance(minutes=1)
    made['l2_b'] = b.case('O-3')
    clock.advance(minutes=1)
    made['l1_b'] = b.case('O-4', amount_fen=700000, merchant_ref='m-2')
    clock.advance(minutes=1)
    made['l2_c'] = b.case('O-5')
    # 1:10 later the L1 first responses (30 min) are breached too, unless we keep them
    # fresh: breach only late_l2's clock by hand, the sweep for the rest runs at its own time.
    late = b.reload(made['late_l2'])
    from desk.agent_desk.models import SlaClock
    SlaClock.update(due_at=clock.now() - dt.timedelta(minutes=1)).where(
        (SlaClock.complaint == late.id) & (SlaClock.target == 'first_response')).execute()
    sla.check_due(late.id, clock.now())
    return {k: b.reload(v) for k, v in made.items()}


def test_queue_order_overdue_then_tier_then_due(app, users, queue_cases):
    c = queue_cases
    assert c['late_l2'].queue_rank == 0
    client = logged_in(app, users('agent', username='cs1'))
    page = client.get('/admin/queue/')
    assert page.status_code == 200
    assert tickets_on(page) == [c['late_l2'].ticket_no, c['l1_a'].ticket_no, c['l1_b'].ticket_no,
                                c['l2_b'].ticket_no, c['l2_c'].ticket_no]
    html = page.get_data(as_text=True)
    row = re.search(r'<tr data-ticket="%s".*?</tr>' % c['late_l2'].ticket_no, html, re.S).group(0)
    assert 'data-overdue="1"' in row and 'table-danger' in row
    assert 'overdue' in row  # the countdown says it is past due
    row = re.search(r'<tr data-ticket="%s".*?</tr>' % c['l1_a'].ticket_no, html, re.S).group(0)
    # the countdown carries the due time in ISO with the offset; L1 first response: 30 min
    due = re.search(r'data-due="([^"]+)"', row).group(1)
    assert due.endswith('+08:00')
    assert dt.datetime.fromisoformat(due) == (c['l1_a'].first_response_due_at.replace(tzinfo=dt.timezone.utc))
    assert 'data-tier="L1"' in row and '¥6,000.00' in row and '商家 m-1' in row
    assert 'claim-button' in row


def test_queue_pages_with_a_keyset_cursor(app, users, queue_cases):
    client = logged_in(app, users('agent', username='cs1'))
    everything = tickets_on(client.get('/admin/queue/'))
    seen, url, pages = [], '/admin/queue/?limit=2', 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        rows = tickets_on(page)
        assert 1 <= len(rows) <= 2
        seen += rows
        pages += 1
        match = re.search(r'<a href="([^"]+)" class="[^"]*" id="next-page"', page.get_data(as_text=True))
        url = match.group(1).replace('&amp;', '&') if match else None
        if url:
            query = parse_qs(urlsplit(url).query)
            assert 'cursor' in query and query['limit'] == ['2']
            assert 'offset' not in query and 'page' not in query
        assert pages < 10
    assert seen == everything and pages == 3
    # a cursor that the page did not give out is refused with a message, not a 500
    bad = client.get('/admin/queue/?cursor=nonsense')
    assert bad.status_code == 422
    assert 'The cursor is not one this page gave out.' in page_text(bad)


def test_queue_filters_and_counts(app, users, queue_cases):
    c = queue_cases
    client = logged_in(app, users('agent', username='cs1'))
    page = client.get('/admin/queue/')
    html = page.get_data(as_text=True)
    counts = dict(re.findall(r'data-count="(\w+)">[^<]*?(\d+)</a>', html))
    assert counts == {'all': '5', 'overdue': '1', 'unassigned': '5', 'L1': '2', 'L2': '3', 'L3': '0'}
    assert 'L1 (2)' in page_text(page)

    l1 = client.get('/admin/queue/?tier=L1')
    assert tickets_on(l1) == [c['l1_a'].ticket_no, c['l1_b'].ticket_no]
    assert '2 matching' in page_text(l1)
    assert tickets_on(client.get('/admin/queue/?merchant=m-2')) == [c['l1_b'].ticket_no]
    assert tickets_on(client.get('/admin/queue/?flag=overdue')) == [c['late_l2'].ticket_no]
    assert tickets_on(client.get('/admin/queue/?category=account_security')) == []
    assert tickets_on(client.get('/admin/queue/?owner=nobody')) == []
    bad = client.get('/admin/queue/?tier=L9')
    assert bad.status_code == 422 and 'The filters are invalid.' in page_text(bad)


def test_supervisor_chooses_the_department(app, users, frozen):
    cs_case = b.case('O-CS')
    ops_case = b.case('O-OPS', category='account_security')
    client = logged_in(app, users('supervisor'))
    assert tickets_on(client.get('/admin/queue/')) == [cs_case.ticket_no]  # the first department
    ops = client.get('/admin/queue/?department=ops')
    assert tickets_on(ops) == [ops_case.ticket_no]
    assert 'claim-button' not in ops.get_data(as_text=True)  # supervisors reassign, not claim
    assert client.get('/admin/queue/?department=nowhere').status_code == 422


# --- claiming ---------------------------------------------------------------------------------

def test_claim_from_the_queue_and_the_conflict_message(app, users, frozen):
    complaint = b.case('O-1')
    first = logged_in(app, users('agent', username='cs1', display_name='小李'))
    second = logged_in(app, users('agent', username='cs2'))
    token_second = csrf_token(second, '/admin/queue/')  # both look at the unowned case

    response = post_form(first, f'/admin/queue/claim/{complaint.ticket_no}', {'next': '/admin/queue/?tier=L2'},
                         page='/admin/queue/')
    assert response.status_code == 302
    assert response.headers['Location'].endswith('/admin/queue/?tier=L2')
    page = first.get('/admin/queue/')
    assert f'You now own {complaint.ticket_no}.' in page_text(page)
    assert b.reload(complaint).owner_id == User.get(User.username == 'cs1').id
    assert b.reload(complaint).state == 'in_progress'
    row = re.search(r'<tr data-ticket="%s".*?</tr>' % complaint.ticket_no, page.get_data(as_text=True), re.S).group(0)
    assert '小李' in row and 'claim-button' not in row

    late = second.post(f'/admin/queue/claim/{complaint.ticket_no}', data={'csrf_token': token_second})
    assert late.status_code == 302
    assert 'A complaint that is being handled by an agent cannot claim.' in flashed(second, '/admin/queue/')
    assert b.reload(complaint).owner_id == User.get(User.username == 'cs1').id


def test_queue_rows_keep_their_owner_in_the_api_too(app, users, api_key, frozen):
    """queue.page joins order, merchant and owner: the rows must keep their foreign keys."""
    complaint = b.case('O-1')
    agent = users('agent', username='cs1')
    client = logged_in(app, agent)
    post_form(client, f'/admin/queue/claim/{complaint.ticket_no}', page='/admin/queue/')
    body = isolated_client(app).get('/api/v1/queue', headers=api_key(agent)).get_json()
    assert [(i['ticket_no'], i['owner']) for i in body['items']] == [(complaint.ticket_no, 'cs1')]


def test_claim_needs_the_csrf_token(app, users, frozen):
    complaint = b.case('O-1')
    client = logged_in(app, users('agent'))
    assert client.post(f'/admin/queue/claim/{complaint.ticket_no}').status_code == 400
    assert b.reload(complaint).owner_id is None


def test_l1_case_needs_a_senior_agent(app, users, frozen):
    complaint = b.case('O-BIG', amount_fen=800000)
    client = logged_in(app, users('agent', username='junior'))
    post_form(client, f'/admin/queue/claim/{complaint.ticket_no}', page='/admin/queue/')
    assert 'This case needs a senior agent' in flashed(client, '/admin/queue/')
    assert b.reload(complaint).owner_id is None


def test_my_cases_lists_what_the_agent_owns(app, users, frozen):
    mine, other = b.case('O-1'), b.case('O-2')
    client = logged_in(app, users('agent', username='cs1'))
    assert tickets_on(client.get('/admin/my-cases/')) == []
    post_form(client, f'/admin/queue/claim/{mine.ticket_no}', page='/admin/queue/')
    page = client.get('/admin/my-cases/')
    assert tickets_on(page) == [mine.ticket_no]
    assert other.ticket_no not in page.get_data(as_text=True)
    assert 'data-count="all">All 1' in page.get_data(as_text=True).replace('\n', '')


# --- the case workspace ------------------------------------------------------------------------

def test_workspace_shows_order_complaint_timeline_and_clocks(app, users, frozen):
    complaint = b.case('O-1')
    client = logged_in(app, users('agent', username='cs1'))
    page = client.get(f'/admin/case/{complaint.ticket_no}')
    body = page_text(page)
    html = page.get_data(as_text=True)
    assert complaint.ticket_no in body
    assert '买家 b-1' in body and '138****1234' in body and '13800001234' not in html
    assert '商家 m-1' in body and '腾讯Q币 100元' in body and '¥49.90' in body
    assert '2026-11-23 10:00' in body  # paid a day before T0, shown in Beijing time
    assert '面值与商品页描述不一致' in body and 'Full refund' in body
    assert 'Waiting for an agent' in body
    assert re.search(r'data-kind="filed"', html)
    clocks = re.findall(r'data-target="(\w+)" data-clock-state="(\w+)"', html)
    assert clocks == [('first_response', 'running'), ('resolution', 'running')]
    assert 'data-due="2026-11-24T12:00:00+08:00"' in html  # L2 first response: 2 hours
    # an agent of the department may claim; reassigning is for supervisors
    assert 'id="action-claim"' in html and 'id="reassign-form"' not in html
    assert 'id="reply-form"' in html and 'id="note-form"' in html


def test_internal_note_is_for_staff_only(app, users, frozen):
    complaint = b.case('O-1')
    agent = users('agent', username='cs1', display_name='小李')
    client = logged_in(app, agent)
    url = f'/admin/case/{complaint.ticket_no}'
    post_form(client, url + '/act/claim', page=url)
    response = post_form(client, url + '/message', {'body': '买家情绪激动，先核实订单。', 'internal': '1'}, page=url)
    assert response.status_code == 302 and response.headers['Location'].endswith(url)
    assert 'Internal note saved.' in flashed(client, url)
    post_form(client, url + '/message', {'body': '您好，我们已受理，会在今天内回复。', 'internal': '0'}, page=url)

    html = client.get(url).get_data(as_text=True)
    note = re.search(r'<li[^>]*data-kind="internal_note"[^>]*>.*?</li>', html, re.S).group(0)
    assert 'data-public="0"' in note and 'Internal, staff only' in note and '买家情绪激动' in note
    reply = re.search(r'<li[^>]*data-kind="message"[^>]*>.*?</li>', html, re.S).group(0)
    assert 'data-public="1"' in reply and '您好，我们已受理' in reply

    buyer = logged_in(app, b.buyer_login('b-1'))
    portal = buyer.get(f'/buyer/complaints/{complaint.ticket_no}').get_data(as_text=True)
    assert '您好，我们已受理' in portal
    assert '买家情绪激动' not in portal and 'internal_note' not in portal


def test_empty_message_is_flashed_not_a_500(app, users, frozen):
    complaint = b.case('O-1')
    client = logged_in(app, users('agent'))
    url = f'/admin/case/{complaint.ticket_no}'
    response = post_form(client, url + '/message', {'body': '   ', 'internal': '0'}, page=url)
    assert response.status_code == 302
    assert 'The message is empty.' in flashed(client, url)


def test_supervisor_reassigns_with_a_reason(app, users, frozen):
    complaint = b.case('O-1')
    users('agent', username='cs2', display_name='小王')
    client = logged_in(app, users('supervisor', username='boss'))
    url = f'/admin/case/{complaint.ticket_no}'
    html = client.get(url).get_data(as_text=True)
    assert 'id="reassign-form"' in html and 'id="action-claim"' not in html
    assert '<option value="cs2">' in html

    post_form(client, url + '/act/reassign', {'to': 'cs2', 'reason': ''}, page=url)
    assert 'Say why the case is reassigned.' in flashed(client, url)
    assert b.reload(complaint).owner_id is None

    post_form(client, url + '/act/reassign', {'to': 'cs2', 'reason': '熟悉该商家'}, page=url)
    page = client.get(url)
    assert f'{complaint.ticket_no} was reassigned.' in page_text(page)
    assert b.reload(complaint).owner_id == User.get(User.username == 'cs2').id
    event = re.search(r'<li[^>]*data-kind="reassigned"[^>]*>.*?</li>', page.get_data(as_text=True), re.S).group(0)
    assert '熟悉该商家' in event and 'data-public="0"' in event


def test_mark_external_from_the_workspace(app, users, frozen):
    complaint = b.case('O-1')
    client = logged_in(app, users('agent'))
    url = f'/admin/case/{complaint.ticket_no}'
    post_form(client, url + '/act/mark_external', {'external': ['12315']}, page=url)
    assert b.reload(complaint).external_12315 and b.reload(complaint).priority > 0
    post_form(client, url + '/act/mark_external', {}, page=url)
    assert 'Name where else it was filed.' in flashed(client, url)


def test_actions_without_a_form_are_not_posted_through_the_workspace(app, users, frozen):
    complaint = b.case('O-1')
    client = logged_in(app, users('agent'))
    url = f'/admin/case/{complaint.ticket_no}'
    assert post_form(client, url + '/act/withdraw', page=url).status_code == 404
    assert b.reload(complaint).state == 'pending_agent'


def test_workspace_hides_actions_the_user_may_not_take(app, users, frozen):
    complaint = b.case('O-1')
    owner = users('agent', username='cs1')
    client = logged_in(app, owner)
    url = f'/admin/case/{complaint.ticket_no}'
    post_form(client, url + '/act/claim', page=url)
    html = client.get(url).get_data(as_text=True)
    assert 'id="action-claim"' not in html and 'id="reassign-form"' not in html
    assert 'id="external-form"' in html  # still allowed
    assert [c for c in re.findall(r'data-target="(\w+)" data-clock-state="(\w+)"', html)] == [
        ('first_response', 'achieved'), ('resolution', 'running')]


# --- the SLA board ------------------------------------------------------------------------------

def _history(users):
    """Hand-built SLA results in the week before T0 (Beijing days 2026-11-18 … 2026-11-24).

    cs1: 3 targets achieved on time + 1 breached  -> 75 %
    cs2: 1 breached, then achieved late on the same clock -> 0 %; one on time outside the period
    ops1 (department ops): 1 on time               -> 100 %
    """
    cs1 = users('agent', username='cs1', display_name='小李')
    cs2 = users('agent', username='cs2', display_name='小王')
    ops1 = users('agent', username='ops1', department='ops', display_name='小赵')
    complaint = b.case('O-HIST')  # its own 'started' events are not results
    day = T0 - dt.timedelta(days=2)

    def event(owner, kind, at, due, target='first_response', department='cs'):
        SlaEvent.create(complaint=complaint.id, target=target, kind=kind, at=at, owner=owner.id,
                        department=department, due_at=due)
    for i in range(3):
        event(cs1, 'achieved', day + dt.timedelta(hours=i), day + dt.timedelta(hours=i, minutes=30),
              target='first_response' if i < 2 else 'resolution')
    event(cs1, 'breached', day + dt.timedelta(hours=5), day + dt.timedelta(hours=5))
    late_due = day + dt.timedelta(hours=6)
    event(cs2, 'breached', late_due, late_due)
    event(cs2, 'achieved', late_due + dt.timedelta(minutes=20), late_due)
    event(cs2, 'achieved', T0 - dt.timedelta(days=30), T0 - dt.timedelta(days=30) + dt.timedelta(hours=1))
    event(ops1, 'achieved', day, day + dt.timedelta(hours=1), department='ops')
    event(cs1, 'warned', day, day + dt.timedelta(hours=1))  # not a result
    return cs1, cs2, ops1


def test_sla_compliance_service(app, users, frozen):
    from desk.agent_desk import sla_reports
    cs1, cs2, ops1 = _history(users)
    first, last = sla_reports.default_period()
    assert (first, last) == (dt.date(2026, 11, 18), dt.date(2026, 11, 24))
    rows = {r['username']: r for r in sla_reports.compliance(first, last)}
    assert set(rows) == {'cs1', 'cs2', 'ops1'}
    assert (rows['cs1']['on_time'], rows['cs1']['breached'], rows['cs1']['rate']) == (3, 1, 75.0)
    assert (rows['cs1']['first_response_on_time'], rows['cs1']['resolution_on_time'],
            rows['cs1']['first_response_breached']) == (2, 1, 1)
    assert (rows['cs2']['on_time'], rows['cs2']['breached'], rows['cs2']['rate']) == (0, 1, 0.0)
    assert (rows['ops1']['on_time'], rows['ops1']['rate']) == (1, 100.0)
    assert [r['username'] for r in sla_reports.compliance(first, last, 'ops')] == ['ops1']
    total = sla_reports.totals(sla_reports.compliance(first, last, 'cs'))
    assert (total['on_time'], total['breached'], total['rate']) == (3, 2, 60.0)
    # a wider period takes in cs2's earlier on-time result
    wide = {r['username']: r for r in sla_reports.compliance(dt.date(2026, 10, 1), last)}
    assert (wide['cs2']['on_time'], wide['cs2']['rate']) == (1, 50.0)
    with pytest.raises(Exception):
        sla_reports.compliance(last, first)


def test_sla_board_shows_per_agent_compliance(app, users, frozen):
    _history(users)
    client = logged_in(app, users('supervisor'))
    page = client.get('/admin/sla/')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<tr data-agent="cs1">.*?</tr>', html, re.S).group(0)
    assert 'data-on-time="3"' in row and 'data-breached="1"' in row and '75.0 %' in row
    assert 'value="2026-11-18"' in html and 'value="2026-11-24"' in html
    ops = client.get('/admin/sla/?department=ops&from=2026-11-01&to=2026-11-24').get_data(as_text=True)
    assert 'data-agent="ops1"' in ops and 'data-agent="cs1"' not in ops
    bad = client.get('/admin/sla/?from=2026-11-30&to=2026-11-01')
    assert bad.status_code == 422 and 'The period ends before it starts.' in page_text(bad)
    assert client.get('/admin/sla/?from=yesterday').status_code == 422


def test_sla_board_csv_export(app, users, frozen):
    _history(users)
    client = logged_in(app, users('admin'))
    response = client.get('/admin/sla/?format=csv&department=cs&from=2026-11-18&to=2026-11-24')
    assert response.status_code == 200
    assert response.mimetype == 'text/csv'
    assert response.headers['Content-Disposition'] == \
        'attachment; filename="sla-compliance-2026-11-18-2026-11-24-cs.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip('\ufeff'))))
    assert rows[0][:3] == ['Agent', 'Username', 'Department'] and rows[0][-1] == 'Compliance %'
    by_user = {r[1]: r for r in rows[1:]}
    assert set(by_user) == {'cs1', 'cs2'}
    assert by_user['cs1'] == ['小李', 'cs1', 'cs', '2', '1', '1', '0', '3', '1', '75.0']
    assert by_user['cs2'][-3:] == ['0', '1', '0.0']


def test_sla_board_breaches_and_warnings_now(app, users, frozen):
    warned, breached, calm = b.case('O-1'), b.case('O-2'), b.case('O-3')
    ops = b.case('O-4', category='account_security')
    agent = users('agent', username='cs1', display_name='小李')
    client = logged_in(app, agent)
    post_form(client, f'/admin/queue/claim/{breached.ticket_no}', page='/admin/queue/')
    # L2 first response is due at 12:00; at 11:50 the sweep warns, at 12:00:01 it breaches
    from desk.agent_desk.models import SlaClock
    SlaClock.update(due_at=clock.now() + dt.timedelta(minutes=10)).where(
        (SlaClock.complaint == warned.id) & (SlaClock.target == 'first_response')).execute()
    SlaClock.update(due_at=clock.now() - dt.timedelta(minutes=1)).where(
        (SlaClock.complaint == breached.id) & (SlaClock.target == 'resolution')).execute()
    for c in (warned, breached, calm, ops):
        sla.refresh(b.reload(c), clock.now())
        sla.check_due(c.id, clock.now())
    board = logged_in(app, users('supervisor')).get('/admin/sla/')
    html = board.get_data(as_text=True)
    cs = re.search(r'data-department="cs".*?</div></div>', html, re.S).group(0)
    assert 'data-breached="1"' in cs and 'data-warned="1"' in cs
    mine = re.search(r'<tr data-agent="cs1">.*?</tr>', html, re.S).group(0)
    assert f'href="/admin/case/{breached.ticket_no}"' in mine
    unowned = re.search(r'<tr data-agent="">.*?</tr>', html, re.S).group(0)
    assert f'href="/admin/case/{warned.ticket_no}"' in unowned
    assert calm.ticket_no not in html and ops.ticket_no not in html
    only_ops = logged_in(app, users('admin')).get('/admin/sla/?department=ops').get_data(as_text=True)
    assert breached.ticket_no not in only_ops and 'id="no-alerts"' in only_ops


# --- filing for a buyer on the phone -----------------------------------------------------------------

def test_phone_filing_creates_a_phone_complaint(app, users, frozen):
    b.order('O-PHONE')
    agent = users('agent', username='cs1')
    client = logged_in(app, agent)
    response = post_form(client, '/admin/file-for-buyer/', {
        'order_no': 'O-PHONE', 'category': 'service_attitude', 'facts': '买家来电：客服态度恶劣。',
        'demand_type': 'compensation', 'demand_amount': '10.00'})
    complaint = Complaint.get()
    assert response.status_code == 302
    assert response.headers['Location'].endswith(f'/admin/case/{complaint.ticket_no}')
    assert complaint.channel == 'phone' and complaint.filed_by_id == agent.id
    assert complaint.buyer_id == Buyer.get(Buyer.ref == 'b-1').id and complaint.demand_fen == 1000
    assert complaint.override_reason is None
    page = client.get(response.headers['Location'])
    assert f'Complaint {complaint.ticket_no} filed for the buyer (phone).' in page_text(page)
    assert 'id="case-channel">Phone call' in page.get_data(as_text=True)


def test_phone_filing_past_the_window_needs_and_logs_a_reason(app, users, frozen):
    b.order('O-OLD', paid_at=T0 - dt.timedelta(days=40))
    client = logged_in(app, users('agent', username='cs1'))
    form = {'order_no': 'O-OLD', 'category': 'card_invalid', 'facts': '卡密无效。',
            'error_message': '卡密已被使用', 'demand_type': 'full_refund'}
    refused = post_form(client, '/admin/file-for-buyer/', form)
    assert refused.status_code == 422
    assert 'The complaint window for this order closed on' in page_text(refused)
    assert Complaint.select().count() == 0

    form['override_reason'] = '买家住院，有医院证明'
    opened = post_form(client, '/admin/file-for-buyer/', form)
    complaint = Complaint.get()
    assert opened.status_code == 302
    assert complaint.channel == 'phone' and complaint.override_reason == '买家住院，有医院证明'
    logged = Event.get((Event.complaint == complaint.id) & (Event.kind == 'window_overridden'))
    assert '买家住院' in logged.data and not logged.public
    page = client.get(opened.headers['Location']).get_data(as_text=True)
    assert '买家住院，有医院证明' in page


def test_phone_filing_errors_stay_on_the_form(app, users, frozen):
    b.order('O-1')
    client = logged_in(app, users('agent'))
    missing = post_form(client, '/admin/file-for-buyer/', {
        'order_no': 'NOPE', 'category': 'service_attitude', 'facts': 'x', 'demand_type': 'full_refund'})
    assert missing.status_code == 404 and 'No order NOPE.' in page_text(missing)
    invalid = post_form(client, '/admin/file-for-buyer/', {
        'order_no': 'O-1', 'category': 'card_invalid', 'facts': '', 'demand_type': 'full_refund'})
    assert invalid.status_code == 422
    assert 'describe what happened' in page_text(invalid) and 'is required for this category' in page_text(invalid)
    assert Complaint.select().count() == 0


def test_phone_filing_for_another_department_stays_on_the_form(app, users, frozen):
    b.order('O-1')
    client = logged_in(app, users('agent', username='cs1'))
    response = post_form(client, '/admin/file-for-buyer/', {
        'order_no': 'O-1', 'category': 'account_security', 'facts': '账号被盗', 'demand_type': 'full_refund'})
    complaint = Complaint.get()
    assert complaint.department == 'ops' and complaint.channel == 'phone'
    assert response.headers['Location'].endswith('/admin/file-for-buyer/')
    assert 'It went to the queue of Operations.' in flashed(client, '/admin/file-for-buyer/')


def test_phone_filing_a_second_open_complaint_opens_the_first(app, users, frozen):
    first = b.case('O-1')
    client = logged_in(app, users('agent'))
    response = post_form(client, '/admin/file-for-buyer/', {
        'order_no': 'O-1', 'category': 'service_attitude', 'facts': '再次来电', 'demand_type': 'full_refund'})
    assert response.status_code == 302
    assert response.headers['Location'].endswith(f'/admin/case/{first.ticket_no}')
    assert Complaint.select().count() == 1


# --- the agent's status and the home page -----------------------------------------------------------

def test_agent_sets_status_from_the_header(app, users):
    agent = users('agent', username='cs1')
    client = logged_in(app, agent)
    html = client.get('/admin/queue/').get_data(as_text=True)
    for id_ in ('agent-status', 'lang-switch', 'logout', 'current-user', 'inbox-link'):
        assert f'id="{id_}"' in html, id_
    assert '<option value="offline" selected>' in html
    response = post_form(client, '/admin/agent-status/', {'status': 'online', 'next': '/admin/my-cases/'},
                         page='/admin/queue/')
    assert response.status_code == 302 and response.headers['Location'].endswith('/admin/my-cases/')
    assert User.get_by_id(agent.id).status == 'online'
    page = client.get('/admin/my-cases/')
    assert '<option value="online" selected>' in page.get_data(as_text=True)
    assert 'Your status is now: online.' in page_text(page)
    post_form(client, '/admin/agent-status/', {'status': 'asleep'}, page='/admin/queue/')
    assert 'Status must be one of online, away, offline.' in flashed(client, '/admin/queue/')
    assert User.get_by_id(agent.id).status == 'online'
    # off-site `next` is ignored
    response = post_form(client, '/admin/agent-status/', {'status': 'away', 'next': '//evil.example/'},
                         page='/admin/queue/')
    assert urlsplit(response.headers['Location']).path == '/admin/queue/'


@pytest.mark.parametrize('role', ('supervisor', 'admin', 'buyer'))
def test_status_select_is_for_agents_only(app, users, role):
    user = b.person(users, role)
    client = logged_in(app, user)
    home = '/buyer/' if role == 'buyer' else '/admin/'
    assert 'id="agent-status"' not in client.get(home).get_data(as_text=True)
    assert post_form(client, '/admin/agent-status/', {'status': 'online'}, page=home).status_code == 403


def test_agent_status_shows_in_the_inbox_page_too(app, users):
    client = logged_in(app, users('senior_agent'))
    assert 'id="agent-status"' in client.get('/inbox/').get_data(as_text=True)


def test_home_counts_for_agents_and_supervisors(app, users, frozen):
    b.case('O-1'), b.case('O-2'), b.case('O-3', category='account_security')
    agent = users('agent', username='cs1')
    client = logged_in(app, agent)
    first = Complaint.select().where(Complaint.department == 'cs').order_by(Complaint.id).first()
    post_form(client, f'/admin/queue/claim/{first.ticket_no}', page='/admin/queue/')
    html = client.get('/admin/').get_data(as_text=True)
    assert 'data-desk-count="waiting_department">1<' in html
    assert 'data-desk-count="my_open">1<' in html
    html = logged_in(app, users('supervisor')).get('/admin/').get_data(as_text=True)
    assert 'data-desk-count="waiting_all">2<' in html and 'data-desk-count="overdue_all">0<' in html
    assert 'data-desk-count="waiting_all">2<' in logged_in(app, users('admin')).get('/admin/').get_data(as_text=True)


def test_merchant_staff_keep_their_console(app, users):
    client = logged_in(app, b.person(users, 'merchant_staff'))
    assert client.get('/merchant/').status_code == 200
    assert client.get('/admin/queue/').status_code == 403
