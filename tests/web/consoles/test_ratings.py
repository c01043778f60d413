"""The metric pages and API (issue 7 §3–5): leaderboard (sort, filters, CSV), the per-agent
page with SVG charts and rated cases, "my performance" (an agent sees only their own), the
review queue form, the merchant's satisfaction page, GET /api/v1/agents/<id>/metrics."""
import csv
import datetime as dt
import io

import pytest

from arbitration import negotiation, rulings
from desk.agent_desk import assignment
from desk.core import clock
from desk.satisfaction import ratings
from desk.satisfaction.models import Review
from tests import builders as b
from tests.support import csrf_token, isolated_client, logged_in

HOUR = dt.timedelta(hours=1)
RESOLVE = {'remedy': {'type': 'none'}, 'note': '已解释原因。'}


@pytest.fixture
def world(app, users, api_key, frozen):
    a, agent_b = b.agent(users, 'agent_a'), b.agent(users, 'agent_b')
    senior = b.agent(users, 'senior_s', role='senior_agent')
    boss = users('supervisor', username='boss')
    for n, (agent, stars) in enumerate([(a, 5), (a, 4), (agent_b, 2), (agent_b, 1)]):
        case = b.case(f'O-{n}')
        assignment.claim(agent, case)
        clock.freeze(clock.now() + HOUR)
        rulings.resolve(agent, b.reload(case), RESOLVE)
        ratings.rate(b.buyer_login('b-1'), b.reload(case), {'stars': stars, 'tags': ['slow'] if stars < 3 else []})
    people = {'a': a, 'b': agent_b, 'senior': senior, 'boss': boss}
    return dict(people=people, keys={k: api_key(u) for k, u in people.items()})


def test_the_leaderboard_ranks_by_score_sorts_filters_and_exports_csv(app, world):
    client = logged_in(app, world['people']['boss'])
    page = client.get('/admin/leaderboard/')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index('data-agent="agent_a"') < html.index('data-agent="agent_b"')
    by_handled = client.get('/admin/leaderboard/?sort=csat_avg&dir=asc').get_data(as_text=True)
    assert by_handled.index('data-agent="agent_b"') < by_handled.index('data-agent="agent_a"')
    assert 'data-agent' not in client.get('/admin/leaderboard/?department=ops').get_data(as_text=True)
    exported = client.get('/admin/leaderboard/?format=csv&period=90d')
    assert exported.mimetype == 'text/csv'
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip('\ufeff'))))
    assert rows[0][:3] == ['rank', 'username', 'name'] and [r[1] for r in rows[1:]] == ['agent_a', 'agent_b']
    assert rows[1][rows[0].index('csat_pct')] == '1.0'
    custom = client.get('/admin/leaderboard/?from=2026-11-01&to=2026-11-30')
    assert custom.status_code == 200 and 'agent_a' in custom.get_data(as_text=True)
    assert client.get('/admin/leaderboard/?from=2026-11-30&to=2026-11-01').status_code == 422
    assert client.get('/admin/leaderboard/?from=junk&to=2026-11-01').status_code == 422


def test_agents_cannot_open_the_leaderboard_or_another_agent_s_page(app, world):
    client = logged_in(app, world['people']['a'])
    assert client.get('/admin/leaderboard/').status_code == 403
    assert client.get(f'/admin/agent-metrics/{world["people"]["b"].id}').status_code == 403
    own = client.get(f'/admin/agent-metrics/{world["people"]["a"].id}')
    assert own.status_code == 200


def test_my_performance_shows_figures_svg_charts_and_rated_cases(app, world):
    client = logged_in(app, world['people']['a'])
    html = client.get('/admin/my-performance/').get_data(as_text=True)
    assert '<svg' in html and '<script' not in html.split('<svg', 1)[1].split('</svg>')[0]
    assert 'data-figure="csat_pct">100.0 %' in html
    assert html.count('data-ticket=') == 2
    supervisor = logged_in(app, world['people']['boss'])
    other = supervisor.get(f'/admin/agent-metrics/{world["people"]["b"].id}').get_data(as_text=True)
    assert 'data-figure="dissatisfied_pct">100.0 %' in other


def test_the_review_queue_lists_open_reviews_and_records_one_from_its_form(app, world):
    client = logged_in(app, world['people']['boss'])
    html = client.get('/admin/reviews/').get_data(as_text=True)
    assert html.count('class="card mb-3 review"') == 2
    review = Review.select().order_by(Review.id).first()
    token = csrf_token(client, '/admin/reviews/')
    refused = client.post(f'/admin/reviews/{review.id}', data={
        'finding': 'buyer_unreasonable', 'actions': ['uphold'], 'note': '', 'csrf_token': token})
    assert refused.status_code == 302 and Review.get_by_id(review.id).state == 'open'
    done = client.post(f'/admin/reviews/{review.id}', data={
        'finding': 'agent_fault', 'actions': ['coach'], 'note': '先回复买家。', 'csrf_token': token})
    assert done.status_code == 302 and Review.get_by_id(review.id).state == 'done'
    assert logged_in(app, world['people']['a']).get('/admin/reviews/').status_code == 403
    coached = logged_in(app, world['people']['b']).get('/admin/my-performance/').get_data(as_text=True)
    assert '先回复买家。' in coached


def test_the_metrics_api_is_for_supervisors_and_the_agent_themself(app, world):
    client = isolated_client(app)
    a, agent_b = world['people']['a'], world['people']['b']
    own = client.get(f'/api/v1/agents/{a.id}/metrics', headers=world['keys']['a'])
    assert own.status_code == 200 and own.get_json()['handled'] == 2 and own.get_json()['csat_pct'] == 1.0
    assert client.get(f'/api/v1/agents/{agent_b.id}/metrics', headers=world['keys']['a']).status_code == 403
    seen = client.get(f'/api/v1/agents/{agent_b.id}/metrics?from=2026-11-01&to=2026-11-30', headers=world['keys']['boss'])
    assert seen.status_code == 200 and seen.get_json()['dissatisfied_pct'] == 1.0
    assert seen.get_json()['from'] == '2026-11-01'
    assert client.get(f'/api/v1/agents/{agent_b.id}/metrics?from=x&to=y', headers=world['keys']['boss']).status_code == 422
    assert client.get(f'/api/v1/agents/{agent_b.id}/metrics?from=2026-11-01', headers=world['keys']['boss']).status_code == 422
    assert client.get('/api/v1/agents/999999/metrics', headers=world['keys']['boss']).status_code == 404


def test_the_merchant_sees_satisfaction_on_agreement_cases(app, world):
    from desk.cases import complaints
    b.order('O-9', amount_fen=10000)
    buyer = b.buyer_login('b-1')
    filed = complaints.file_complaint(buyer, b.body('O-9'))
    negotiation.propose(b.merchant_login('m-1'), b.reload(filed), {'type': 'reissue', 'message': '补发'})
    negotiation.accept(buyer, b.reload(filed), {})
    ratings.rate(buyer, b.reload(filed), {'stars': 4})
    client = logged_in(app, b.merchant_login('m-1'))
    html = client.get('/merchant/satisfaction/').get_data(as_text=True)
    assert 'data-figure="rated">1' in html and filed.ticket_no in html
