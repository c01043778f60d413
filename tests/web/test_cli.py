"""`flask desk …` commands through Flask's CLI runner: users, API keys, the demo data."""
import pytest

from desk.orders.models import Order
from desk.parties.models import ROLES, ApiKey, Buyer, Merchant, User
from tests import builders as b
from tests.support import isolated_cli, isolated_client, login


@pytest.fixture
def cli(app, make_app):
    """Runs `flask desk …`; messages in English (outside a request the CLI speaks
    DESK_DEFAULT_LOCALE, Chinese unless set)."""
    return isolated_cli(make_app(DEFAULT_LOCALE='en'))


def create_user(cli, *extra, username='zhang', password='long-enough-1', role='agent'):
    return cli('create-user', '--username', username, '--password', password, '--role', role, *extra)


def assert_clear_failure(result, *words):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), 'no traceback'
    assert 'Traceback' not in result.output
    assert 'error:' in result.stderr
    for word in words:
        assert word in result.stderr


def test_create_user(cli):
    result = create_user(cli, '--department', 'cs', '--name', '张客服')
    assert result.exit_code == 0, result.output
    assert 'created agent zhang' in result.output
    user = User.get(User.username == 'zhang')
    assert (user.role, user.department, user.display_name) == ('agent', 'cs', '张客服')
    assert user.password_hash.startswith('$argon2id$')
    assert 'long-enough-1' not in user.password_hash


def test_created_user_can_log_in(app, cli):
    assert create_user(cli, role='supervisor').exit_code == 0
    client = isolated_client(app)
    assert login(client, 'zhang', 'long-enough-1').headers['Location'] == '/admin/'


def test_create_merchant_staff_and_buyer_accounts(cli):
    Merchant.create(ref='m-1', name='星耀')
    Buyer.create(ref='b-1', display_name='王伟')
    assert create_user(cli, '--merchant', 'm-1', username='shop', role='merchant_staff').exit_code == 0
    assert create_user(cli, '--buyer', 'b-1', username='wang', role='buyer').exit_code == 0
    assert User.get(User.username == 'shop').merchant.ref == 'm-1'
    assert User.get(User.username == 'wang').buyer.ref == 'b-1'


def test_bad_role_is_a_clear_error(cli):
    result = create_user(cli, role='superuser')
    assert_clear_failure(result, 'role')
    for role in ROLES:
        assert role in result.stderr  # the valid choices are listed
    assert User.select().count() == 0


def test_bad_department_is_a_clear_error(cli):
    assert_clear_failure(create_user(cli, '--department', 'sales'), 'department')


def test_agent_without_department_is_a_clear_error(cli):
    assert_clear_failure(create_user(cli), 'department')


@pytest.mark.parametrize('extra', [(), ('--merchant', 'm-none')])
def test_merchant_staff_need_an_existing_merchant(cli, extra):
    assert_clear_failure(create_user(cli, *extra, role='merchant_staff'), 'merchant')
    assert User.select().count() == 0


def test_buyer_account_needs_an_existing_buyer(cli):
    assert_clear_failure(create_user(cli, '--buyer', 'b-none', role='buyer'), 'buyer')


def test_short_password_and_taken_username(cli):
    assert_clear_failure(create_user(cli, password='short', role='admin'), 'password')
    assert create_user(cli, role='admin').exit_code == 0
    assert_clear_failure(create_user(cli, role='admin'), 'already taken')
    assert User.select().count() == 1


def test_create_api_key_prints_a_working_key(app, cli, users):
    users('integration', username='marketplace')
    b.push_order('KM-CLI-1')
    result = cli('create-api-key', '--user', 'marketplace', '--name', 'shop system')
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith('dk_') and '\n' not in secret
    key = ApiKey.get()
    assert key.name == 'shop system'
    assert secret not in (key.key_hash, key.prefix)
    api = isolated_client(app)
    response = api.get('/api/v1/orders/KM-CLI-1', headers={'Authorization': f'Bearer {secret}'})
    assert response.status_code == 200
    assert response.get_json()['order_no'] == 'KM-CLI-1'


def test_every_key_is_different(cli, users):
    users('integration', username='marketplace')
    first = cli('create-api-key', '--user', 'marketplace').output.strip()
    second = cli('create-api-key', '--user', 'marketplace').output.strip()
    assert first != second
    assert ApiKey.select().count() == 2


def test_api_key_for_an_unknown_user(cli):
    assert_clear_failure(cli('create-api-key', '--user', 'ghost'), 'ghost')
    assert ApiKey.select().count() == 0


def test_api_key_for_an_inactive_user(cli, users):
    from desk.parties.accounts import update_user
    update_user(users('integration', username='old'), active=False)
    assert_clear_failure(cli('create-api-key', '--user', 'old'), 'not active')


def test_migrate_command_reports_up_to_date(cli):
    result = cli('migrate')
    assert result.exit_code == 0, result.output
    assert 'up to date' in result.output


def test_seed_demo(app, cli):
    result = cli('seed-demo')
    assert result.exit_code == 0, result.output
    assert Merchant.select().count() == 8
    assert 40 <= Buyer.select().count() <= 50
    assert Order.select().count() == 300
    roles = {u.role for u in User.select()}
    assert roles == set(ROLES), 'every role has a demo login'
    for user in User.select():
        assert user.username in result.output
    assert 'demo-pass-2026' in result.output
    # every merchant and buyer account points at real data
    for staff in User.select().where(User.role == 'merchant_staff'):
        assert staff.merchant.orders.count() > 0
    for buyer in User.select().where(User.role == 'buyer'):
        assert buyer.buyer.orders.count() > 0

    # the demo logins work and see data
    from web.demo import DEMO_PASSWORD
    client = isolated_client(app)
    assert login(client, 'admin', DEMO_PASSWORD).headers['Location'] == '/admin/'
    shop = User.get(User.role == 'merchant_staff')
    client = isolated_client(app)
    login(client, shop.username, DEMO_PASSWORD)
    assert client.get('/merchant/merchant_orders/').status_code == 200


def test_seed_demo_if_empty_leaves_existing_data_alone(cli):
    assert cli('seed-demo').exit_code == 0
    counts = (User.select().count(), Order.select().count())
    result = cli('seed-demo', '--if-empty')
    assert result.exit_code == 0
    assert 'already' in result.output
    assert (User.select().count(), Order.select().count()) == counts


def test_seed_demo_twice_is_a_clear_error(cli):
    assert cli('seed-demo').exit_code == 0
    counts = (User.select().count(), Order.select().count())
    assert_clear_failure(cli('seed-demo'), 'already')
    assert (User.select().count(), Order.select().count()) == counts


def test_show_logins(cli):
    cli('seed-demo')
    result = cli('show-logins')
    assert result.exit_code == 0
    for username in ('admin', 'supervisor', 'agent_cs', 'senior_cs', 'marketplace'):
        assert username in result.output


def test_cli_speaks_the_default_locale(app):
    result = isolated_cli(app)('create-user', '--username', 'x', '--password', 'short', '--role', 'admin')
    assert result.exit_code == 1
    assert '无法创建该用户' in result.stderr  # "The user could not be created."
