"""The arbitration panel of the parties' case pages: the evidence deadline and requests, the
"all my evidence is in" button, the ruling with its reasoning, and the appeal form."""
import re

from arbitration.intervention import request_evidence
from arbitration.rulings import rule
from desk.cases.models import Appeal, EvidenceDeclaration
from desk.core import clock
from tests import builders as b
from tests.arbitration.test_rulings import EVIDENCE, HOUR, RULE, desk  # noqa: F401 (desk: a fixture)
from tests.conftest import T0
from tests.support import csrf_token, logged_in, page_text


def test_the_buyer_sees_the_deadline_and_declares_done(app, desk):  # noqa: F811
    complaint = b.dispute('O-1', desk['users']['first'])
    request_evidence(desk['users']['first'], complaint, {'party': 'buyer', 'note': '请上传付款截图'})
    buyer = logged_in(app, desk['users']['buyer'])
    page_url = f'/buyer/complaints/{complaint.ticket_no}'
    page = buyer.get(page_url)
    html = page.get_data(as_text=True)
    assert 'id="arbitration-panel"' in html and 'Submit your evidence by 2026-11-26 10:00' in page_text(page)
    assert '请上传付款截图' in html and 'id="evidence-done-form"' in html
    response = buyer.post(f'/arbitration/{complaint.ticket_no}/evidence-done',
                          data={'csrf_token': csrf_token(buyer, page_url), 'next': page_url})
    assert response.status_code == 302 and response.headers['Location'].endswith(page_url)
    assert EvidenceDeclaration.get(EvidenceDeclaration.complaint == complaint.id).party == 'buyer'
    html = buyer.get(page_url).get_data(as_text=True)
    assert 'id="evidence-declared"' in html and 'id="evidence-done-form"' not in html
    # an open redirect is not followed
    other = buyer.post(f'/arbitration/{complaint.ticket_no}/evidence-done',
                       data={'csrf_token': csrf_token(buyer, page_url), 'next': '//evil.example/'})
    assert other.headers['Location'].endswith(page_url)


def test_the_merchant_sees_the_ruling_and_appeals_from_the_console(app, desk):  # noqa: F811
    complaint = b.dispute('O-1', desk['users']['first'])
    clock.freeze(T0 + EVIDENCE + HOUR)
    rule(desk['users']['first'], b.reload(complaint), RULE)
    merchant = logged_in(app, desk['users']['merchant'])
    page_url = f'/merchant/complaints/{complaint.ticket_no}'
    page = merchant.get(page_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="party-ruling-1"' in html and RULE['reasoning'] in html
    assert 'buyer wins in part' in page_text(page) and 'R-DESC-01' in html and '¥30.00' in html
    assert 'id="appeal-form"' in html
    token = csrf_token(merchant, page_url)
    refused = merchant.post(f'/arbitration/{complaint.ticket_no}/appeal', data={'csrf_token': token, 'reason': '不服'})
    assert refused.status_code == 302
    assert 'appeal needs new evidence' in page_text(merchant.get(page_url))
    b.forced_evidence(complaint, 'merchant', 'delivery_log', at=clock.now() + HOUR)
    clock.advance(hours=2)
    merchant.post(f'/arbitration/{complaint.ticket_no}/appeal', data={'csrf_token': token, 'reason': '发放日志证明卡密有效'})
    assert Appeal.get(Appeal.complaint == complaint.id).party == 'merchant'
    html = merchant.get(page_url).get_data(as_text=True)
    assert 'id="appeal-status"' in html and 'id="appeal-form"' not in html


def test_the_buyer_reads_the_ruling_in_chinese(app, desk):  # noqa: F811
    complaint = b.dispute('O-1', desk['users']['first'])
    clock.freeze(T0 + EVIDENCE + HOUR)
    rule(desk['users']['first'], b.reload(complaint), RULE)
    buyer = logged_in(app, desk['users']['buyer'])
    buyer.environ_base['HTTP_ACCEPT_LANGUAGE'] = 'zh-CN'
    desk['users']['buyer'].locale = 'zh'
    desk['users']['buyer'].save()
    page = buyer.get(f'/buyer/complaints/{complaint.ticket_no}')
    html = page.get_data(as_text=True)
    assert RULE['reasoning'] in html and '商品信息须与描述一致' in html  # the clause title in Chinese


def test_other_parties_get_404_and_staff_no_panel(app, desk):  # noqa: F811
    complaint = b.dispute('O-1', desk['users']['first'])
    other = logged_in(app, b.buyer_login('b-2'))
    token = csrf_token(other, '/buyer/')
    assert other.post(f'/arbitration/{complaint.ticket_no}/evidence-done', data={'csrf_token': token}).status_code == 404
    agent = logged_in(app, desk['users']['first'])
    assert agent.post(f'/arbitration/{complaint.ticket_no}/evidence-done',
                      data={'csrf_token': csrf_token(agent, '/admin/')}).status_code == 403
    html = agent.get(f'/admin/case/{complaint.ticket_no}').get_data(as_text=True)
    assert 'id="arbitration-panel"' not in html and re.search(r'id="open-workspace"', html)
