"""Who may open which console page, what each one shows, and the admin's user and API-key
screens driven end to end through the test client."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from desk.parties.models import ApiKey, Merchant, User
from tests import builders as b
from tests.support import csrf_token, isolated_client, logged_in, login

ROLES = ('buyer', 'merchant_staff', 'agent', 'senior_agent', 'supervisor', 'admin', 'integration')
STAFF = ('agent', 'senior_agent', 'supervisor', 'admin')
HOMES = {
    '/admin/': STAFF,
    '/merchant/': ('merchant_staff',),
    '/buyer/': ('buyer',),
}
ADMIN_ONLY = ('/admin/users/', '/admin/orders/', '/admin/merchants/', '/admin/api_keys/',
              '/admin/order_import/', '/admin/users/new/', '/admin/api_keys/issue/')
FORBIDDEN_MESSAGE = 'Your account may not open this page.'


def logged_in_as(app, users, role, username=None):
    """A client logged in as a new user of `role` (buyers of b-1, staff of m-1)."""
    return logged_in(app, b.person(users, role, username))


def assert_login_redirect(response, path):
    assert response.status_code == 302
    location = urlsplit(response.headers['Location'])
    assert location.path == '/login'
    assert parse_qs(location.query)['next'] == [path]


def assert_forbidden_page(response):
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert 'id="error-message"' in html
    assert FORBIDDEN_MESSAGE in html


@pytest.mark.parametrize('path', list(HOMES) + list(ADMIN_ONLY))
def test_anonymous_is_sent_to_log_in(app, path):
    assert_login_redirect(isolated_client(app).get(path), path)


@pytest.mark.parametrize('role', ROLES)
def test_console_homes_by_role(app, users, role):
    client = logged_in_as(app, users, role)
    for path, allowed in HOMES.items():
        response = client.get(path)
        if role in allowed:
            assert response.status_code == 200, path
        else:
            assert_forbidden_page(response)


@pytest.mark.parametrize('role', ROLES)
def test_admin_only_views_by_role(app, users, role):
    client = logged_in_as(app, users, role)
    for path in ADMIN_ONLY:
        response = client.get(path)
        if role == 'admin':
            assert response.status_code == 200, path
        else:
            assert_forbidden_page(response)


@pytest.mark.parametrize('role', ('agent', 'supervisor'))
def test_admin_only_views_are_hidden_from_other_staff_menus(app, users, role):
    html = logged_in_as(app, users, role).get('/admin/').get_data(as_text=True)
    for path in ('/admin/users/', '/admin/api_keys/', '/admin/order_import/'):
        assert f'href="{path}"' not in html


def test_admin_menu_links_the_admin_views(app, users):
    html = logged_in_as(app, users, 'admin').get('/admin/').get_data(as_text=True)
    for path in ('/admin/users/', '/admin/orders/', '/admin/merchants/', '/admin/api_keys/',
                 '/admin/order_import/'):
        assert f'href="{path}"' in html


def test_forbidden_page_speaks_chinese_by_default(app, users):
    user = b.person(users, 'buyer')
    client = isolated_client(app, language=None)
    login(client, user.username)
    response = client.get('/admin/')
    assert response.status_code == 403
    assert 'lang="zh-CN"' in response.get_data(as_text=True)


# -- what each console shows ------------------------------------------------------------

@pytest.fixture
def two_shops(app):
    """Orders of two merchants and two buyers; returns {name: Order}."""
    return {
        'm1_b1': b.push_order('KM-M1-B1', buyer='b-1', merchant='m-1', product='一号店 点券'),
        'm1_b2': b.push_order('KM-M1-B2', buyer='b-2', merchant='m-1', product='一号店 话费'),
        'm2_b1': b.push_order('KM-M2-B1', buyer='b-1', merchant='m-2', product='二号店 礼品卡'),
    }


def test_merchant_staff_see_only_their_merchant_orders(app, users, two_shops):
    users('merchant_staff', username='shop1', merchant_ref='m-1')
    client = isolated_client(app)
    login(client, 'shop1')
    listing = client.get('/merchant/merchant_orders/')
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert 'KM-M1-B1' in html and 'KM-M1-B2' in html
    assert 'KM-M2-B1' not in html
    assert '138****1234' in html and '13812341234' not in html  # phones masked
    assert '¥49.90' in html

    # another merchant's order by id, by search and by filter stays invisible
    other = two_shops['m2_b1']
    details = client.get(f'/merchant/merchant_orders/details/?id={other.id}')
    assert details.status_code in (302, 404)
    if details.status_code == 302:
        assert 'KM-M2-B1' not in client.get(details.headers['Location']).get_data(as_text=True)
    searched = client.get('/merchant/merchant_orders/?search=KM-M2').get_data(as_text=True)
    assert 'KM-M2-B1' not in searched
    own = two_shops['m1_b1']
    mine = client.get(f'/merchant/merchant_orders/details/?id={own.id}')
    assert mine.status_code == 200
    assert 'KM-M1-B1' in mine.get_data(as_text=True)


def test_merchant_console_is_read_only(app, users, two_shops):
    users('merchant_staff', username='shop1', merchant_ref='m-1')
    client = isolated_client(app)
    login(client, 'shop1')
    own = two_shops['m1_b1']
    for path in (f'/merchant/merchant_orders/edit/?id={own.id}', '/merchant/merchant_orders/new/'):
        response = client.get(path)
        assert response.status_code in (302, 403, 404), path
    token = csrf_token(client, '/merchant/merchant_orders/')
    client.post('/merchant/merchant_orders/delete/', data={'id': own.id, 'csrf_token': token})
    from desk.orders.models import Order
    assert Order.select().count() == 3


def test_merchant_home_shows_its_counts(app, users, two_shops, frozen):
    users('merchant_staff', username='shop1', merchant_ref='m-1')
    users('merchant_staff', username='shop1b', merchant_ref='m-1')
    client = isolated_client(app)
    login(client, 'shop1')
    html = client.get('/merchant/').get_data(as_text=True)
    assert '星耀游戏点卡专营店' in html
    assert re.search(r'data-count="orders_30d">2<', html)
    assert re.search(r'data-count="orders_total">2<', html)
    assert re.search(r'data-count="staff">2<', html)


def test_buyer_portal_shows_only_the_buyers_orders(app, users, two_shops):
    users('buyer', username='wang', buyer_ref='b-1')
    client = isolated_client(app)
    login(client, 'wang')
    html = client.get('/buyer/').get_data(as_text=True)
    assert 'data-order="KM-M1-B1"' in html
    assert 'data-order="KM-M2-B1"' in html
    assert 'KM-M1-B2' not in html
    assert '¥49.90' in html


def test_buyer_without_orders_sees_an_empty_page(app, users):
    b.person(users, 'buyer', username='lonely')
    client = isolated_client(app)
    login(client, 'lonely')
    html = client.get('/buyer/').get_data(as_text=True)
    assert 'You have no orders yet.' in html


def test_staff_home_shows_counts(app, users, frozen):
    b.push_order('KM-RECENT', paid_at='2026-11-24T09:00:00+08:00')           # 1 hour before T0
    b.push_order('KM-WEEK', paid_at='2026-11-20T09:00:00+08:00')             # 4 days before
    b.push_order('KM-OLD', merchant='m-2', paid_at='2026-10-01T09:00:00+08:00',
               delivered_at=None)
    admin = isolated_client(app)
    users('admin', username='root')
    login(admin, 'root')
    html = admin.get('/admin/').get_data(as_text=True)
    assert re.search(r'data-count="orders_24h">1<', html)
    assert re.search(r'data-count="orders_7d">2<', html)
    assert re.search(r'data-count="merchants">2<', html)
    assert re.search(r'data-count="buyers">1<', html)

    agent = isolated_client(app)
    users('agent', username='ag')
    login(agent, 'ag')
    html = agent.get('/admin/').get_data(as_text=True)
    assert re.search(r'data-count="orders_24h">1<', html)
    assert 'data-count="buyers"' not in html  # admins only


def test_two_clients_keep_their_own_users(app, users, two_shops):
    """Guards the test harness too: each client acts as the user who logged in on it."""
    users('merchant_staff', username='shop1', merchant_ref='m-1')
    users('merchant_staff', username='shop2', merchant_ref='m-2')
    one, two = isolated_client(app), isolated_client(app)
    login(one, 'shop1')
    login(two, 'shop2')
    assert 'KM-M1-B1' in one.get('/merchant/merchant_orders/').get_data(as_text=True)
    assert 'KM-M2-B1' in two.get('/merchant/merchant_orders/').get_data(as_text=True)
    assert 'KM-M2-B1' not in one.get('/merchant/merchant_orders/').get_data(as_text=True)


def test_admin_order_list_masks_phones(app, users, two_shops):
    client = logged_in_as(app, users, 'admin')
    html = client.get('/admin/orders/').get_data(as_text=True)
    assert 'KM-M1-B1' in html and 'KM-M2-B1' in html
    assert '138****1234' in html and '13812341234' not in html


# -- admin screens end to end -----------------------------------------------------------

def user_form(client, **fields):
    data = {'csrf_token': csrf_token(client, '/admin/users/new/'), 'username': '',
            'display_name': '', 'role': 'agent', 'department': '', 'capacity': '10',
            'active': 'y', 'password': '', 'merchant_ref': '', 'buyer_ref': ''}
    data.update(fields)
    return data


def test_admin_creates_a_user_through_the_service(app, users):
    client = logged_in_as(app, users, 'admin')
    response = client.post('/admin/users/new/', data=user_form(
        client, username='xiaoli', display_name='小李', role='agent', department='ops',
        password='a-strong-password'))
    assert response.status_code == 302
    created = User.get(User.username == 'xiaoli')
    assert created.role == 'agent' and created.department == 'ops'
    assert created.display_name == '小李'
    assert created.password_hash.startswith('$argon2id$')
    assert 'a-strong-password' not in created.password_hash
    newcomer = isolated_client(app)
    assert login(newcomer, 'xiaoli', 'a-strong-password').headers['Location'] == '/admin/'


def test_admin_creates_merchant_staff_for_an_existing_merchant(app, users):
    Merchant.create(ref='m-9', name='九号店')
    client = logged_in_as(app, users, 'admin')
    response = client.post('/admin/users/new/', data=user_form(
        client, username='shop9', display_name='九号店客服', role='merchant_staff',
        merchant_ref='m-9', password='a-strong-password'))
    assert response.status_code == 302
    assert User.get(User.username == 'shop9').merchant.ref == 'm-9'


@pytest.mark.parametrize('fields, message', [
    ({'role': 'merchant_staff', 'merchant_ref': 'm-none'}, 'merchant staff need an existing merchant'),
    ({'role': 'agent', 'department': ''}, 'agents need a department'),
    ({'role': 'supervisor', 'password': 'short'}, ''),
    ({'role': 'supervisor', 'password': ''}, 'at least 8 characters'),
    ({'role': 'supervisor', 'username': 'root'}, 'already taken'),
])
def test_admin_user_form_reports_problems(app, users, fields, message):
    client = logged_in_as(app, users, 'admin', username='root')
    data = user_form(client, username='someone', display_name='某人', password='a-strong-password')
    data.update(fields)
    response = client.post('/admin/users/new/', data=data)
    assert response.status_code == 200  # the form again, not a crash
    assert message in response.get_data(as_text=True)
    assert User.select().count() == 1


def test_admin_deactivates_a_user(app, users):
    target = users('agent', username='leaving')
    client = logged_in_as(app, users, 'admin')
    edit_url = f'/admin/users/edit/?id={target.id}'
    page = client.get(edit_url)
    assert page.status_code == 200
    data = {'csrf_token': csrf_token(client, edit_url), 'username': 'leaving',
            'display_name': 'Leaving', 'department': 'cs', 'capacity': '5', 'password': '',
            'merchant_ref': '', 'buyer_ref': ''}  # no 'active': the box is unticked
    response = client.post(edit_url, data=data)
    assert response.status_code == 302
    saved = User.get_by_id(target.id)
    assert saved.active is False
    assert saved.display_name == 'Leaving' and saved.capacity == 5
    assert saved.role == 'agent'
    assert login(isolated_client(app), 'leaving').status_code == 401


def issue_key(client, user, name='shop system'):
    token = csrf_token(client, '/admin/api_keys/issue/')
    response = client.post('/admin/api_keys/issue/', data={'csrf_token': token, 'user': str(user.id),
                                                           'name': name})
    assert response.status_code == 200
    match = re.search(r'<code id="new-key"[^>]*>([^<]+)</code>', response.get_data(as_text=True))
    assert match, 'the new key is shown'
    return match.group(1)


def test_admin_issues_and_revokes_an_api_key(app, users):
    b.push_order('KM-KEY-1')
    integration = users('integration', username='marketplace')
    client = logged_in_as(app, users, 'admin')
    secret = issue_key(client, integration)
    api = isolated_client(app)
    headers = {'Authorization': f'Bearer {secret}'}
    assert api.get('/api/v1/orders/KM-KEY-1', headers=headers).status_code == 200

    # shown once: neither the list nor the database holds it
    listing = client.get('/admin/api_keys/').get_data(as_text=True)
    assert secret not in listing
    key = ApiKey.get(ApiKey.user == integration.id)
    assert secret not in (key.key_hash, key.prefix)
    assert key.prefix in listing
    assert secret not in client.get('/admin/api_keys/issue/').get_data(as_text=True)

    token = csrf_token(client, '/admin/api_keys/')
    assert client.post(f'/admin/api_keys/revoke/{key.id}').status_code == 400  # CSRF
    assert api.get('/api/v1/orders/KM-KEY-1', headers=headers).status_code == 200
    response = client.post(f'/admin/api_keys/revoke/{key.id}', data={'csrf_token': token})
    assert response.status_code == 302
    assert ApiKey.get_by_id(key.id).revoked_at is not None
    denied = api.get('/api/v1/orders/KM-KEY-1', headers=headers)
    assert denied.status_code == 401
    assert denied.get_json()['error']['code'] == 'unauthorized'


def test_revoking_an_unknown_key_is_404(app, users):
    client = logged_in_as(app, users, 'admin')
    token = csrf_token(client, '/admin/api_keys/')
    assert client.post('/admin/api_keys/revoke/999999', data={'csrf_token': token}).status_code == 404


def test_non_admin_cannot_issue_or_revoke_keys(app, users):
    integration = users('integration', username='marketplace')
    from desk.parties.accounts import create_api_key
    key, _secret = create_api_key(integration, 'x')
    client = logged_in_as(app, users, 'supervisor')
    token = csrf_token(client, '/admin/')
    assert client.post('/admin/api_keys/issue/', data={
        'csrf_token': token, 'user': str(integration.id), 'name': 'x'}).status_code == 403
    assert client.post(f'/admin/api_keys/revoke/{key.id}', data={'csrf_token': token}).status_code == 403
    assert ApiKey.get_by_id(key.id).revoked_at is None
    assert ApiKey.select().count() == 1


def test_issuing_a_key_for_an_unknown_user_is_not_a_crash(app, users):
    client = logged_in_as(app, users, 'admin')
    token = csrf_token(client, '/admin/api_keys/issue/')
    response = client.post('/admin/api_keys/issue/', data={'csrf_token': token, 'user': '999999',
                                                           'name': 'x'})
    assert response.status_code == 200
    assert ApiKey.select().count() == 0
    response = client.post('/admin/api_keys/issue/', data={'csrf_token': token, 'user': 'abc',
                                                           'name': 'x'})
    assert response.status_code == 200


# -- odd URLs are answered, never a crash ---------------------------------------------------

HUGE = '99999999999999999999'
ODD_ADMIN_URLS = [
    '/admin/orders/?search=%00', '/admin/users/?search=abc%00', '/admin/merchants/?search=%00',
    '/admin/orders/?flt0_0=%00', '/admin/orders/?flt1_0=not-a-date', '/admin/orders/?sort=999',
    '/admin/orders/?page=-1', '/admin/orders/?page=abc', '/admin/users/?page=-5',
    '/admin/orders/details/?id=abc', '/admin/orders/details/?id=%00', f'/admin/orders/details/?id={HUGE}',
    '/admin/orders/details/?id=-1', '/admin/users/edit/?id=abc', f'/admin/users/edit/?id={HUGE}',
    f'/admin/merchants/edit/?id={HUGE}', f'/admin/order_import/{HUGE}',
    f'/admin/order_import/{HUGE}/progress', '/login?next=%00', '/lang/en?next=/%00',
]
ODD_MERCHANT_URLS = [
    '/merchant/merchant_orders/?search=%00', '/merchant/merchant_orders/?flt0_0=%00',
    '/merchant/merchant_orders/?page=-1', '/merchant/merchant_orders/details/?id=abc',
    f'/merchant/merchant_orders/details/?id={HUGE}', '/merchant/merchant_orders/details/?id=%00',
]


def test_odd_urls_are_answered_not_crashed(app, users, two_shops):
    admin = logged_in_as(app, users, 'admin')
    users('merchant_staff', username='shop1', merchant_ref='m-1')
    shop = isolated_client(app)
    login(shop, 'shop1')
    for client, urls in ((admin, ODD_ADMIN_URLS), (shop, ODD_MERCHANT_URLS)):
        for url in urls:
            response = client.get(url)  # in testing an exception would propagate here
            assert response.status_code in (200, 302, 400, 404), (url, response.status_code)


def test_a_nul_byte_in_a_form_is_400(app, users):
    client = logged_in_as(app, users, 'admin')
    data = user_form(client, username='x\x00y', display_name='X', role='supervisor',
                     password='a-strong-password')
    assert client.post('/admin/users/new/', data=data).status_code == 400
    assert User.select().count() == 1
