"""Logging in and out: role homes, one message for every failure, CSRF, safe `next`,
throttling per account and per address, and how passwords are stored."""
import pytest

from desk.parties import accounts
from desk.parties.models import LoginFailure, User
from tests.conftest import PASSWORD
from tests.support import csrf_token, isolated_client, login

WRONG = 'Wrong username or password.'


def post_login(client, username, password=PASSWORD, **extra):
    data = {'username': username, 'password': password, 'csrf_token': csrf_token(client, '/login')}
    data.update(extra)
    return client.post('/login', data=data)


@pytest.mark.parametrize('role, home', [
    ('buyer', '/buyer/'),
    ('merchant_staff', '/merchant/'),
    ('agent', '/admin/'),
    ('senior_agent', '/admin/'),
    ('supervisor', '/admin/'),
    ('admin', '/admin/'),
])
def test_login_redirects_each_role_home(en_client, users, role, home):
    from desk.parties.models import Buyer, Merchant
    extra = {}
    if role == 'buyer':
        extra['buyer_ref'] = Buyer.create(ref='b-1', display_name='王伟').ref
    if role == 'merchant_staff':
        extra['merchant_ref'] = Merchant.create(ref='m-1', name='星耀').ref
    user = users(role, **extra)
    response = login(en_client, user.username)
    assert response.status_code == 302
    assert response.headers['Location'] == home
    page = en_client.get(home)
    assert page.status_code == 200
    # the root page sends a logged-in user to the same home
    assert en_client.get('/').headers['Location'] == home


def test_login_page_renders_with_a_csrf_token(en_client):
    page = en_client.get('/login')
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_message(en_client, users):
    users('agent', username='alice')
    wrong = post_login(en_client, 'alice', 'not-the-password')
    unknown = post_login(en_client, 'nobody', 'not-the-password')
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert WRONG in response.get_data(as_text=True)
    assert en_client.get('/admin/').status_code == 302  # still anonymous


def test_login_is_not_case_confused_and_trims_the_username(en_client, users):
    users('agent', username='alice')
    assert post_login(en_client, '  alice ').status_code == 302


def test_inactive_user_is_refused_with_the_same_message(en_client, users):
    user = users('agent', username='gone')
    accounts.update_user(user, department='cs', active=False)
    response = post_login(en_client, 'gone')
    assert response.status_code == 401
    assert WRONG in response.get_data(as_text=True)


def test_deactivated_user_loses_the_session(en_client, users):
    user = users('agent', username='bob')
    assert login(en_client, 'bob').status_code == 302
    assert en_client.get('/admin/').status_code == 200
    accounts.update_user(User.get_by_id(user.id), department='cs', active=False)
    response = en_client.get('/admin/')
    assert response.status_code == 302
    assert response.headers['Location'].startswith('/login')


def test_empty_form_is_422_not_a_crash(en_client):
    response = en_client.post('/login', data={'csrf_token': csrf_token(en_client, '/login')})
    assert response.status_code == 422


def test_login_without_csrf_token_is_400(en_client, users):
    users('admin', username='root')
    response = en_client.post('/login', data={'username': 'root', 'password': PASSWORD})
    assert response.status_code == 400
    assert en_client.get('/admin/').status_code == 302


def test_login_with_a_forged_csrf_token_is_400(en_client, users):
    users('admin', username='root')
    response = en_client.post('/login', data={'username': 'root', 'password': PASSWORD,
                                       'csrf_token': 'forged'})
    assert response.status_code == 400


def test_control_characters_in_the_username_are_a_plain_failure(en_client, users):
    users('admin', username='root')
    response = post_login(en_client, 'ro\tot')
    assert response.status_code == 401
    assert WRONG in response.get_data(as_text=True)


def test_a_nul_byte_in_the_login_form_is_400(en_client, users):
    users('admin', username='root')
    assert post_login(en_client, 'ro\x00ot').status_code == 400
    assert post_login(en_client, 'root', PASSWORD + '\x00').status_code == 400
    assert post_login(en_client, 'root').status_code == 302


def test_logout_is_post_only_and_needs_csrf(en_client, users):
    users('admin', username='root')
    login(en_client, 'root')
    assert en_client.get('/logout').status_code == 405
    assert en_client.post('/logout').status_code == 400
    assert en_client.get('/admin/').status_code == 200, 'a forged logout must not log out'
    token = csrf_token(en_client, '/admin/')
    response = en_client.post('/logout', data={'csrf_token': token})
    assert response.status_code == 302
    assert response.headers['Location'] == '/login'
    assert en_client.get('/admin/').status_code == 302


def test_next_is_honoured_when_relative(en_client, users):
    users('admin', username='root')
    response = login(en_client, 'root', next_url='/admin/users/?page=2')
    assert response.headers['Location'] == '/admin/users/?page=2'


@pytest.mark.parametrize('target', [
    '//evil.com', '//evil.com/admin/', 'http://evil.com', 'https://evil.com/admin/',
    '/\\evil.com', '\\\\evil.com', '/\t/evil.com', 'javascript:alert(1)', 'evil.com',
    ' //evil.com',
])
def test_next_pointing_elsewhere_is_ignored(en_client, users, target):
    users('admin', username='root')
    page = en_client.get('/login', query_string={'next': target}).get_data(as_text=True)
    assert '<input type="hidden" name="next" value="">' in page
    response = login(en_client, 'root', next_url=target)
    assert response.status_code == 302
    assert response.headers['Location'] == '/admin/'


def test_anonymous_visit_returns_there_after_login(en_client, users):
    users('admin', username='root')
    response = en_client.get('/admin/users/')
    assert response.status_code == 302
    location = response.headers['Location']
    assert location.startswith('/login?next=')
    next_value = en_client.get(location)
    assert next_value.status_code == 200
    assert 'value="/admin/users/"' in next_value.get_data(as_text=True)
    assert login(en_client, 'root', next_url='/admin/users/').headers['Location'] == '/admin/users/'


def test_language_switch_only_redirects_locally(en_client):
    assert en_client.get('/lang/en?next=//evil.com').headers['Location'] == '/'
    assert en_client.get('/lang/zh?next=/login').headers['Location'] == '/login'


def test_password_is_stored_as_an_argon2id_hash(users):
    user = users('agent', username='carol')
    stored = User.get_by_id(user.id).password_hash
    assert stored.startswith('$argon2id$')
    assert PASSWORD not in stored
    assert accounts.hash_password(PASSWORD) != stored  # salted


@pytest.fixture
def throttled_app(app, make_app):
    return make_app(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_IP=100, LOGIN_LOCK_SECONDS=600)


def test_account_is_locked_after_repeated_failures(throttled_app, users, frozen):
    users('admin', username='root')
    client = isolated_client(throttled_app)
    for _ in range(3):
        assert post_login(client, 'root', 'wrong-password').status_code == 401
    response = post_login(client, 'root')  # even the right password waits
    assert response.status_code == 429
    assert 'Try again in 10 minutes.' in response.get_data(as_text=True)
    assert client.get('/admin/').status_code == 302

    frozen.advance(301)
    response = post_login(client, 'root')
    assert response.status_code == 429
    assert 'Try again in 5 minutes.' in response.get_data(as_text=True)

    frozen.advance(299)  # LOGIN_LOCK_SECONDS after the last failure
    assert post_login(client, 'root').status_code == 302
    assert client.get('/admin/').status_code == 200


def test_the_lock_is_per_account(throttled_app, users, frozen):
    users('admin', username='root')
    users('agent', username='dave')
    client = isolated_client(throttled_app)
    for _ in range(3):
        post_login(client, 'root', 'wrong-password')
    assert post_login(client, 'root').status_code == 429
    assert post_login(client, 'dave').status_code == 302


def test_the_lock_ignores_username_case_and_spaces(throttled_app, users, frozen):
    users('admin', username='root')
    client = isolated_client(throttled_app)
    for name in ('root', 'ROOT', ' Root '):
        post_login(client, name, 'wrong-password')
    assert post_login(client, 'root').status_code == 429


def test_failures_older_than_the_lock_window_do_not_count(throttled_app, users, frozen):
    users('admin', username='root')
    client = isolated_client(throttled_app)
    for _ in range(2):
        post_login(client, 'root', 'wrong-password')
    frozen.advance(601)
    post_login(client, 'root', 'wrong-password')
    assert post_login(client, 'root').status_code == 302


def test_success_clears_the_account_failures(throttled_app, users, frozen):
    users('admin', username='root')
    client = isolated_client(throttled_app)
    for _ in range(2):
        post_login(client, 'root', 'wrong-password')
    assert post_login(client, 'root').status_code == 302
    assert LoginFailure.select().where(LoginFailure.key == 'user:root').count() == 0
    client.post('/logout', data={'csrf_token': csrf_token(client, '/admin/')})
    for _ in range(2):
        assert post_login(client, 'root', 'wrong-password').status_code == 401
    assert post_login(client, 'root').status_code == 302


def test_an_address_is_locked_across_usernames(app, make_app, users, frozen):
    ip_app = make_app(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_IP=3, LOGIN_LOCK_SECONDS=900)
    users('admin', username='root')
    attacker = isolated_client(ip_app, addr='203.0.113.7')
    for name in ('root', 'admin', 'ops'):
        assert post_login(attacker, name, 'guess-1234').status_code == 401
    response = post_login(attacker, 'root')
    assert response.status_code == 429
    assert 'Try again in 15 minutes.' in response.get_data(as_text=True)

    colleague = isolated_client(ip_app, addr='198.51.100.20')
    assert post_login(colleague, 'root').status_code == 302

    frozen.advance(900)
    assert post_login(attacker, 'root').status_code == 302


def test_purge_forgets_old_failures(app, users, frozen):
    accounts_failures = LoginFailure.insert_many([
        {'key': 'user:x', 'at': frozen.now()},
    ]).execute()
    assert accounts_failures is not None
    frozen.advance(days=2)
    LoginFailure.create(key='user:y', at=frozen.now())
    assert accounts.purge_login_failures() == 1
    assert [f.key for f in LoginFailure.select()] == ['user:y']


def test_usernames_with_control_characters_cannot_be_created(app):
    from desk.core.errors import Invalid
    for name in ('bad\x00name', 'tab\tname', 'new\nline'):
        with pytest.raises(Invalid) as err:
            accounts.create_user(name, PASSWORD, 'supervisor')
        assert 'username' in err.value.fields
