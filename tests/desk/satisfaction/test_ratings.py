"""Satisfaction ratings and the supervisor review (SPEC §6, issue 7): who may rate, when,
once per resolution round, the bad input of the issue (each a test), the snapshot of the
agent, the review a dissatisfied rating opens and its findings and actions, reopening to a
senior agent, and the timers of a resolved case (day 3 / day 6 reminders, close_timeout).
"""
import datetime as dt
import json

import pytest

from desk.cases.models import Event, Remedy
from desk.core import clock, deadlines
from desk.satisfaction.models import Rating, RatingFollowup, Review
from tests import builders as b
from tests.support import act, count_queries, csrf_token, error, isolated_client, login, ok

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
EVIDENCE = dt.timedelta(seconds=172800)
RULE = {'outcome': 'buyer_partial', 'responsibility': 'merchant',
        'remedy': {'type': 'refund', 'amount': '30.00'}, 'reasoning': '面值与描述不符。'}


@pytest.fixture
def desk(app, users, api_key, frozen):
    arbiter = b.agent(users, 'arbiter')
    senior = b.agent(users, 'senior1', role='senior_agent')
    other = b.agent(users, 'other')
    supervisor = users('supervisor', username='boss')
    buyer, staff = b.buyer_login('b-1'), b.merchant_login('m-1')
    other_buyer = b.buyer_login('b-2')
    people = {'arbiter': arbiter, 'senior': senior, 'other': other, 'supervisor': supervisor,
              'buyer': buyer, 'merchant': staff, 'other_buyer': other_buyer}
    keys = {name: api_key(u) for name, u in people.items()}
    return dict(keys, users=people, client=isolated_client(app))


def ruled(desk, order_no='O-1', agent='arbiter'):
    """A dispute ruled by `agent` at T0 + 2 days + 1 hour (the evidence period over)."""
    complaint = b.dispute(order_no, desk['users'][agent])
    clock.freeze(clock.now() + EVIDENCE + HOUR)
    deadlines.advance_due()
    ok(act(desk, agent, complaint, 'rule', RULE))
    return b.reload(complaint)


def agreed(desk, order_no='O-9'):
    """A merchant case the buyer settled by accepting the proposal (no agent)."""
    from arbitration import negotiation
    b.order(order_no, buyer_ref='b-1', merchant_ref='m-1', amount_fen=10000)
    from desk.cases import complaints
    filed = complaints.file_complaint(desk['users']['buyer'], b.body(order_no, category='not_as_described'))
    negotiation.propose(desk['users']['merchant'], b.reload(filed), {'type': 'refund', 'amount': '10.00',
                                                                'message': '退 10 元。'})
    ok(act(desk, 'buyer', filed, 'accept'))
    return b.reload(filed)


# --- rating ---------------------------------------------------------------------------------

def test_the_buyer_rates_and_the_rating_snapshots_agent_and_department(desk):
    complaint = ruled(desk)
    view = ok(desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}', headers=desk['buyer']))
    assert 'rate' in view['allowed_actions']
    done = ok(act(desk, 'buyer', complaint, 'rate', {'stars': 4, 'tags': ['good'], 'comment': '还不错'}))
    assert 'rate' not in done['allowed_actions'] and done['state'] == 'resolved'
    rating = Rating.get(Rating.complaint == complaint.id)
    assert (rating.stars, json.loads(rating.tags), rating.comment) == (4, ['good'], '还不错')
    assert rating.agent_id == desk['users']['arbiter'].id and rating.department == 'cs'
    assert rating.merchant_id is None and rating.round == 1
    # the agent moves department later: the rating keeps the one at the moment of rating
    type(desk['users']['arbiter']).update(department='ops').where(
        type(desk['users']['arbiter']).id == desk['users']['arbiter'].id).execute()
    assert Rating.get_by_id(rating.id).department == 'cs'
    assert 'rated' in b.event_kinds(complaint)
    assert not Review.select().exists()  # 4 stars: no review


def test_an_agreement_without_an_agent_is_attributed_to_the_merchant(desk):
    complaint = agreed(desk)
    assert complaint.state == 'resolved' and complaint.owner_id is None
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 5}))
    rating = Rating.get(Rating.complaint == complaint.id)
    assert rating.agent_id is None and rating.merchant_id == complaint.merchant_id


def test_rating_before_resolution_is_409(desk):
    complaint = b.dispute('O-1', desk['users']['arbiter'])
    assert 'cannot' in error(act(desk, 'buyer', complaint, 'rate', {'stars': 5}), 409)['message']
    assert not Rating.select().exists()


def test_rating_after_seven_days_is_409(desk):
    complaint = ruled(desk)
    clock.freeze(clock.now() + dt.timedelta(days=7, seconds=1))
    assert 'closed' in error(act(desk, 'buyer', complaint, 'rate', {'stars': 5}), 409)['message']
    assert not Rating.select().exists()


@pytest.mark.parametrize('stars', [0, 6, '5', None, True, 4.5, -1])
def test_stars_out_of_range_or_not_a_whole_number_is_422(desk, stars):
    complaint = ruled(desk)
    problem = error(act(desk, 'buyer', complaint, 'rate', {'stars': stars}), 422)
    assert 'stars' in problem['fields']
    assert not Rating.select().exists()


@pytest.mark.parametrize('body, field', [({'stars': 3, 'tags': ['awful']}, 'tags'),
                                         ({'stars': 3, 'tags': 'slow'}, 'tags'),
                                         ({'stars': 3, 'comment': 'x' * 501}, 'comment'),
                                         ({'stars': 3, 'comment': 7}, 'comment'),
                                         ({}, 'stars')])
def test_bad_tags_or_comment_is_422(desk, body, field):
    complaint = ruled(desk)
    assert field in error(act(desk, 'buyer', complaint, 'rate', body), 422)['fields']


def test_a_500_character_comment_is_accepted(desk):
    complaint = ruled(desk)
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 3, 'comment': '好' * 500}))


def test_a_second_rating_in_the_same_round_is_409(desk):
    complaint = ruled(desk)
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 5}))
    assert 'already rated' in error(act(desk, 'buyer', complaint, 'rate', {'stars': 1}), 409)['message']
    assert Rating.select().count() == 1


@pytest.mark.parametrize('who, status', [('merchant', 403), ('arbiter', 403), ('supervisor', 403),
                                         ('senior', 403), ('other_buyer', 404)])
def test_nobody_but_the_case_s_buyer_rates(desk, who, status):
    complaint = ruled(desk)
    error(act(desk, who, complaint, 'rate', {'stars': 5}), status)
    assert not Rating.select().exists()


def test_a_get_on_the_rating_urls_does_nothing(desk, app):
    complaint = ruled(desk)
    api = desk['client'].get(f'/api/v1/complaints/{complaint.ticket_no}/actions/rate?stars=1',
                             headers=desk['buyer'])
    assert api.status_code in (404, 405)
    browser = isolated_client(app)
    login(browser, desk['users']['buyer'].username)
    page = browser.get(f'/buyer/complaints/{complaint.ticket_no}/rate?stars=1')
    assert page.status_code == 405
    assert not Rating.select().exists()


def test_the_portal_form_rates_with_its_csrf_token_and_never_without(desk, app):
    complaint = ruled(desk)
    browser = isolated_client(app)
    login(browser, desk['users']['buyer'].username)
    url = f'/buyer/complaints/{complaint.ticket_no}'
    page = browser.get(url).get_data(as_text=True)
    assert 'id="rate-form"' in page
    refused = browser.post(f'{url}/rate', data={'stars': '1', 'tags': ['unfair']})
    assert refused.status_code == 400 and not Rating.select().exists()
    token = csrf_token(browser, url)
    done = browser.post(f'{url}/rate', data={'stars': '1', 'tags': ['unfair', 'slow'], 'comment': '不公平',
                                             'csrf_token': token})
    assert done.status_code == 302
    rating = Rating.get(Rating.complaint == complaint.id)
    assert rating.stars == 1 and json.loads(rating.tags) == ['unfair', 'slow']
    after = browser.get(url).get_data(as_text=True)
    assert 'id="rate-form"' not in after and 'rating-given' in after


def test_a_staff_login_cannot_use_the_portal_form(desk, app):
    complaint = ruled(desk)
    browser = isolated_client(app)
    login(browser, desk['users']['arbiter'].username)
    token = csrf_token(browser, '/login')
    response = browser.post(f'/buyer/complaints/{complaint.ticket_no}/rate',
                            data={'stars': '5', 'csrf_token': token})
    assert response.status_code in (302, 403, 404)
    assert not Rating.select().exists()


# --- the review -----------------------------------------------------------------------------

def dissatisfied(desk, order_no='O-1', stars=1, tags=('unfair',)):
    complaint = ruled(desk, order_no)
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': stars, 'tags': list(tags)}))
    return b.reload(complaint)


def test_a_1_or_2_rating_opens_a_review_tells_the_supervisors_and_fires_the_webhook(desk, monkeypatch):
    published = []
    import desk.satisfaction.ratings as ratings_module
    original = ratings_module.publish
    monkeypatch.setattr(ratings_module, 'publish', lambda event, data, *a, **k: (
        published.append((event, data)), original(event, data, *a, **k)))
    complaint = dissatisfied(desk, stars=2)
    review = Review.get(Review.complaint == complaint.id)
    assert review.state == 'open' and review.due_at == clock.now() + dt.timedelta(hours=24)
    assert review.agent_id == desk['users']['arbiter'].id
    assert 'review_opened' in b.notices(desk['users']['supervisor'], complaint)
    assert [e for e, _ in published] == ['rating.dissatisfied']
    assert published[0][1]['stars'] == 2 and published[0][1]['agent'] == 'arbiter'
    listed = ok(desk['client'].get('/api/v1/reviews?state=open', headers=desk['supervisor']))
    assert [(i['ticket_no'], i['rating']['stars']) for i in listed['items']] == [(complaint.ticket_no, 2)]
    error(desk['client'].get('/api/v1/reviews?state=open', headers=desk['arbiter']), 403)
    # a 3-star rating opens nothing
    ok(act(desk, 'buyer', ruled(desk, 'O-2'), 'rate', {'stars': 3}))
    assert Review.select().count() == 1


@pytest.mark.parametrize('who', ['arbiter', 'senior', 'merchant', 'buyer'])
def test_review_by_a_non_supervisor_is_403(desk, who):
    complaint = dissatisfied(desk)
    error(act(desk, who, complaint, 'review', {'finding': 'agent_fault', 'actions': ['uphold'],
                                               'note': 'ok'}), 403)
    assert Review.get(Review.complaint == complaint.id).state == 'open'


def test_review_without_an_open_review_is_409(desk):
    complaint = ruled(desk)
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 5}))
    error(act(desk, 'supervisor', complaint, 'review', {'finding': 'agent_fault', 'actions': ['uphold'],
                                                        'note': 'ok'}), 409)


@pytest.mark.parametrize('body, field', [
    ({'finding': 'buyer_unreasonable', 'actions': ['uphold']}, 'note'),
    ({'finding': 'buyer_unreasonable', 'actions': ['uphold'], 'note': '   '}, 'note'),
    ({'finding': 'lazy', 'actions': ['uphold'], 'note': 'x'}, 'finding'),
    ({'finding': 'agent_fault', 'actions': [], 'note': 'x'}, 'actions'),
    ({'finding': 'agent_fault', 'actions': ['fire'], 'note': 'x'}, 'actions'),
    ({'finding': 'agent_fault', 'actions': ['uphold', 'reopen'], 'note': 'x'}, 'actions'),
    ({'finding': 'agent_fault', 'actions': ['compensate'], 'note': 'x'}, 'amount'),
    ({'finding': 'agent_fault', 'actions': ['compensate'], 'note': 'x', 'amount': '500.00'}, 'amount'),
])
def test_bad_reviews_are_422(desk, body, field):
    complaint = dissatisfied(desk)
    assert field in error(act(desk, 'supervisor', complaint, 'review', body), 422)['fields']
    assert Review.get(Review.complaint == complaint.id).state == 'open'
    assert not Rating.get(Rating.complaint == complaint.id).excluded


def test_buyer_unreasonable_excludes_the_rating_kept_and_marked_with_who_and_why(desk):
    complaint = dissatisfied(desk)
    ok(act(desk, 'supervisor', complaint, 'review', {'finding': 'buyer_unreasonable', 'actions': ['uphold'],
                                                     'note': '买家要求超出订单金额的赔偿。'}))
    rating = Rating.get(Rating.complaint == complaint.id)
    assert rating.excluded and rating.excluded_by_id == desk['users']['supervisor'].id
    assert rating.excluded_reason == '买家要求超出订单金额的赔偿。' and rating.excluded_at == clock.now()
    review = Review.get(Review.complaint == complaint.id)
    assert (review.state, review.finding, json.loads(review.actions)) == ('done', 'buyer_unreasonable', ['uphold'])
    assert b.reload(complaint).state == 'resolved'
    event = Event.get((Event.complaint == complaint.id) & (Event.kind == 'reviewed'))
    assert not event.public and json.loads(event.data)['excluded'] is True


def test_reopen_sends_the_case_to_a_senior_agent_who_rules_again_and_the_buyer_rates_again(desk):
    complaint = dissatisfied(desk)
    done = ok(act(desk, 'supervisor', complaint, 'review', {
        'finding': 'agent_fault', 'actions': ['reopen', 'coach'], 'note': '裁决未看商家的发货记录。'}))
    assert done['state'] == 'in_arbitration' and done['owner'] == 'senior1'
    case = b.reload(complaint)
    assert case.in_queue and case.rating_due_at is None and case.appeal_due_at is None
    resolution = b.clock_of(case, 'resolution')
    assert resolution.state == 'running' and resolution.started_at == clock.now()
    assert case.resolution_due_at == resolution.due_at > clock.now()
    assert not RatingFollowup.select().where(RatingFollowup.complaint == complaint.id).exists()
    assert 'case_reopened' in b.notices(desk['users']['senior'], complaint)
    assert 'review_coaching' in b.notices(desk['users']['arbiter'], complaint)
    assert Review.get(Review.complaint == complaint.id).coach_note == '裁决未看商家的发货记录。'
    queue = ok(desk['client'].get('/api/v1/queue?department=cs&owner=senior1', headers=desk['senior']))
    assert complaint.ticket_no in [c['ticket_no'] for c in queue['items']]
    clock.freeze(clock.now() + HOUR)
    ruled_again = ok(act(desk, 'senior', complaint, 'rule', dict(RULE, outcome='buyer_full',
                                                                 remedy={'type': 'refund', 'amount': '40.00'})))
    assert ruled_again['state'] == 'resolved' and ruled_again['ruling']['round'] == 2
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 5}))
    ratings = list(Rating.select().where(Rating.complaint == complaint.id).order_by(Rating.round))
    assert [(r.round, r.stars, r.agent.username) for r in ratings] == [(1, 1, 'arbiter'), (2, 5, 'senior1')]


def test_reopen_is_only_for_a_resolved_case(desk):
    complaint = dissatisfied(desk)
    clock.freeze(clock.now() + dt.timedelta(days=8))
    deadlines.advance_due()
    assert b.reload(complaint).state == 'closed'
    refused = error(act(desk, 'supervisor', complaint, 'review', {
        'finding': 'agent_fault', 'actions': ['reopen'], 'note': 'x'}), 409)
    assert 'resolved' in refused['message']
    # the review of a closed case can still record its finding
    ok(act(desk, 'supervisor', complaint, 'review', {'finding': 'policy_gap', 'actions': ['uphold'],
                                                     'note': '规则没有覆盖这种情况。'}))


def test_compensate_creates_a_coupon_through_the_remedy_pipeline(desk):
    complaint = dissatisfied(desk)
    ok(act(desk, 'supervisor', complaint, 'review', {'finding': 'merchant_fault', 'actions': ['compensate'],
                                                     'note': '补偿优惠券。', 'amount': '5.00'}))
    coupon = Remedy.get((Remedy.complaint == complaint.id) & (Remedy.source == 'review'))
    assert (coupon.kind, coupon.amount_fen, coupon.state) == ('compensation', 500, 'pending')
    assert Review.get(Review.complaint == complaint.id).coupon_fen == 500


def test_coach_needs_an_agent(desk):
    complaint = agreed(desk)
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 1}))
    problem = error(act(desk, 'supervisor', complaint, 'review', {'finding': 'merchant_fault',
                                                                  'actions': ['coach'], 'note': 'x'}), 422)
    assert 'actions' in problem['fields']


def test_reopen_directly_by_a_supervisor_picks_the_least_loaded_senior(desk):
    complaint = ruled(desk)
    done = ok(act(desk, 'supervisor', complaint, 'reopen', {'reason': '复核。'}))
    assert done['owner'] == 'senior1'
    error(act(desk, 'arbiter', ruled(desk, 'O-2'), 'reopen', {'reason': 'x'}), 403)


# --- timers -----------------------------------------------------------------------------------

def test_reminders_on_day_3_and_day_6_while_unrated_then_the_case_closes(desk):
    complaint = ruled(desk)
    resolved = b.reload(complaint).resolved_at
    buyer = desk['users']['buyer']
    clock.freeze(resolved + dt.timedelta(days=3) - HOUR)
    deadlines.advance_due()
    assert b.notices(buyer, complaint).count('rating_reminder') == 0
    clock.freeze(resolved + dt.timedelta(days=3))
    deadlines.advance_due()
    assert b.notices(buyer, complaint).count('rating_reminder') == 1
    clock.freeze(resolved + dt.timedelta(days=6))
    deadlines.advance_due()
    deadlines.advance_due()
    assert b.notices(buyer, complaint).count('rating_reminder') == 2
    clock.freeze(resolved + dt.timedelta(days=7) - HOUR)
    deadlines.advance_due()
    assert b.reload(complaint).state == 'resolved'
    clock.freeze(resolved + dt.timedelta(days=7))
    deadlines.advance_due()
    case = b.reload(complaint)
    assert case.state == 'closed' and case.closed_at == clock.now()
    assert b.event_kinds(complaint)[-1] == 'close_timeout'
    assert b.notices(buyer, complaint).count('rating_reminder') == 2


def test_a_rated_case_gets_no_more_reminders(desk):
    complaint = ruled(desk)
    resolved = b.reload(complaint).resolved_at
    clock.freeze(resolved + dt.timedelta(days=3))
    deadlines.advance_due()
    ok(act(desk, 'buyer', complaint, 'rate', {'stars': 4}))
    clock.freeze(resolved + dt.timedelta(days=6))
    deadlines.advance_due()
    assert b.notices(desk['users']['buyer'], complaint).count('rating_reminder') == 1


def test_an_appeal_stops_the_close_and_the_appeal_ruling_reopens_the_windows(desk):
    complaint = ruled(desk)
    b.forced_evidence(complaint, 'merchant', 'delivery_log', at=clock.now() + HOUR)
    clock.freeze(clock.now() + 2 * HOUR)
    ok(act(desk, 'merchant', complaint, 'appeal', {'reason': '有新的发货记录。'}))
    assert not RatingFollowup.select().where(RatingFollowup.complaint == complaint.id).exists()
    clock.freeze(clock.now() + dt.timedelta(days=8))
    deadlines.advance_due()
    assert b.reload(complaint).state == 'appealed'


def test_close_timeout_is_never_callable(desk):
    complaint = ruled(desk)
    for who in ('buyer', 'supervisor', 'arbiter'):
        error(act(desk, who, complaint, 'close_timeout'), 403)


def _queries(client, headers, url):
    """How many SQL statements one GET runs."""
    with count_queries() as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return len(statements)


def test_listing_resolved_cases_reads_ratings_and_reviews_once_per_page(desk):
    """The rate and review guards behind `allowed_actions` must not query once per row."""
    first = agreed(desk, 'O-21')
    url = '/api/v1/complaints?state=resolved'
    for who in ('buyer', 'supervisor'):  # the key's first use also records when it was used
        _queries(desk['client'], desk[who], url)
    one = {who: _queries(desk['client'], desk[who], url) for who in ('buyer', 'supervisor')}
    ok(act(desk, 'buyer', first, 'rate', {'stars': 1, 'tags': ['unfair']}))  # opens a review
    for n in range(22, 26):
        agreed(desk, f'O-{n}')
    for who in ('buyer', 'supervisor'):
        assert _queries(desk['client'], desk[who], url) == one[who], who
    listed = ok(desk['client'].get(url, headers=desk['buyer']))['items']
    actions = {c['ticket_no']: c['allowed_actions'] for c in listed}
    assert 'rate' not in actions[first.ticket_no] and all('rate' in a for t, a in actions.items() if t != first.ticket_no)
    supervised = ok(desk['client'].get(url, headers=desk['supervisor']))['items']
    assert [c['ticket_no'] for c in supervised if 'review' in c['allowed_actions']] == [first.ticket_no]


def test_a_nul_in_a_comment_review_note_or_reopen_reason_is_422(desk):
    """The API refuses NUL in any JSON body; the portal and console forms reach the services."""
    from desk.core.errors import Invalid
    from desk.satisfaction import ratings
    with pytest.raises(Invalid) as err:
        ratings.parse_rating({'stars': 5, 'comment': '很好\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'comment'}
    with pytest.raises(Invalid) as err:
        ratings.parse_review(None, {'finding': 'agent_fault', 'actions': ['uphold'], 'note': '说明\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'note'}
    complaint = ruled(desk)
    with pytest.raises(Invalid) as err:
        ratings.reopen(desk['users']['supervisor'], complaint, {'reason': '重开\x00'})
    assert err.value.status == 422 and set(err.value.fields) == {'reason'}
    assert b.reload(complaint).state == 'resolved'
