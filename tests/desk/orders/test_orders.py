"""`PUT/GET /api/v1/orders/<order_no>`: idempotent upsert, validation as 422 naming the field,
authentication and visibility, masking, formats, and concurrent first inserts."""
import threading

import pytest

from desk.core.db import database
from desk.orders.models import Order
from desk.parties.models import Buyer, Merchant
from tests import builders as b
from tests.support import isolated_client

URL = '/api/v1/orders/'
CARD = 'ABCD-EFGH-JKLM-5678'


@pytest.fixture
def integration(users, api_key):
    return api_key(users('integration', username='marketplace'))


def put(en_client, headers, order_no, body):
    return en_client.put(URL + order_no, json=body, headers=headers)


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()['error']
    assert error['code'] == code
    assert isinstance(error['message'], str) and error['message']
    if field is not None:
        assert field in error['fields'], error
        assert error['fields'][field]
    return error


def test_create_then_identical_repeat_is_idempotent(en_client, integration, frozen):
    first = put(en_client, integration, 'KM-1', b.order_body())
    assert first.status_code == 201
    frozen.advance(3600)
    again = put(en_client, integration, 'KM-1', b.order_body())
    assert again.status_code == 200
    assert again.get_json() == first.get_json(), 'nothing changed, not even updated_at'
    assert Order.select().count() == 1
    assert Buyer.select().count() == 1
    assert Merchant.select().count() == 1


def test_representation(en_client, integration):
    data = put(en_client, integration, 'KM-1', b.order_body(card_code=CARD, receiving_account='13800000000',
                                                    confirmed_at='2026-11-24T12:00:00+08:00')).get_json()
    assert data['order_no'] == 'KM-1'
    assert data['buyer'] == {'ref': 'b-1', 'name': '王伟', 'phone': '138****1234'}
    assert data['merchant'] == {'ref': 'm-1', 'name': '星耀游戏点卡专营店'}
    assert data['product'] == '王者荣耀 点券 600'
    assert data['sku'] == 'WZ-600'
    assert data['goods_type'] == 'game_card'
    assert data['amount'] == '49.90'
    assert data['paid_at'] == '2026-11-24T09:30:00+08:00'
    assert data['delivered_at'] == '2026-11-24T09:31:00+08:00'
    assert data['confirmed_at'] == '2026-11-24T12:00:00+08:00'
    assert data['payment_method'] == 'alipay'
    assert data['region'] == '广东'
    assert data['card_code'] == '****5678'
    assert data['created_at'].endswith('+08:00')
    assert data['updated_at'].endswith('+08:00')


@pytest.mark.parametrize('raw, shown', [
    ('2026-11-24T09:30:00+08:00', '2026-11-24T09:30:00+08:00'),
    ('2026-11-24T01:30:00Z', '2026-11-24T09:30:00+08:00'),
    ('2026-11-24T01:30:00+00:00', '2026-11-24T09:30:00+08:00'),
    ('2026-11-24T09:30:00', '2026-11-24T09:30:00+08:00'),  # no offset: the desk's time zone
    ('2026-11-24 09:30:00.999', '2026-11-24T09:30:00+08:00'),
])
def test_times_are_read_with_offsets_and_shown_in_beijing_time(en_client, integration, raw, shown):
    body = b.order_body(paid_at=raw, delivered_at=None)
    assert put(en_client, integration, 'KM-1', body).get_json()['paid_at'] == shown


@pytest.mark.parametrize('raw, shown', [('49.9', '49.90'), ('49', '49.00'), ('0.01', '0.01'),
                                        ('1234.5', '1234.50')])
def test_amounts_are_returned_with_two_decimals(en_client, integration, raw, shown):
    response = put(en_client, integration, 'KM-1', b.order_body(amount=raw))
    assert response.get_json()['amount'] == shown
    assert Order.get().amount_fen == int(shown.replace('.', ''))


def test_update_changes_the_fields(en_client, integration, frozen):
    created = put(en_client, integration, 'KM-1', b.order_body()).get_json()
    frozen.advance(60)
    response = put(en_client, integration, 'KM-1', b.order_body(
        product='王者荣耀 点券 1200', amount='99.80', payment_method='wechat', region='浙江',
        confirmed_at='2026-11-24T20:00:00+08:00',
        buyer={'ref': 'b-1', 'name': '王伟伟', 'phone': '13900001111'},
        merchant={'ref': 'm-1', 'name': '星耀旗舰店'}))
    assert response.status_code == 200
    data = response.get_json()
    assert data['product'] == '王者荣耀 点券 1200'
    assert data['amount'] == '99.80'
    assert data['payment_method'] == 'wechat'
    assert data['region'] == '浙江'
    assert data['confirmed_at'] == '2026-11-24T20:00:00+08:00'
    assert data['buyer'] == {'ref': 'b-1', 'name': '王伟伟', 'phone': '139****1111'}
    assert data['merchant']['name'] == '星耀旗舰店'
    assert data['created_at'] == created['created_at']
    assert data['updated_at'] != created['updated_at']
    order = Order.get()
    assert (order.amount_fen, order.product) == (9980, '王者荣耀 点券 1200')
    assert Order.select().count() == 1


def test_buyers_and_merchants_are_created_on_first_sight(en_client, integration):
    put(en_client, integration, 'KM-1', b.order_body(buyer='b-1', merchant='m-1'))
    put(en_client, integration, 'KM-2', b.order_body(buyer='b-1', merchant='m-2'))
    put(en_client, integration, 'KM-3', b.order_body(buyer='b-2', merchant='m-2'))
    assert sorted(b.ref for b in Buyer.select()) == ['b-1', 'b-2']
    assert sorted(m.ref for m in Merchant.select()) == ['m-1', 'm-2']
    buyer = Buyer.get(Buyer.ref == 'b-1')
    assert (buyer.display_name, buyer.phone) == ('王伟', '13812341234')  # stored whole
    assert Order.select().count() == 3


def test_a_missing_phone_keeps_the_known_one(en_client, integration):
    put(en_client, integration, 'KM-1', b.order_body())
    put(en_client, integration, 'KM-2', b.order_body(buyer={'ref': 'b-1', 'name': '王伟'}))
    assert Buyer.get().phone == '13812341234'


@pytest.mark.parametrize('change', [
    {'buyer': {'ref': 'b-other', 'name': '李娜'}},
    {'merchant': {'ref': 'm-other', 'name': '别家'}},
])
def test_an_order_never_moves_to_another_buyer_or_merchant(en_client, integration, change):
    put(en_client, integration, 'KM-1', b.order_body())
    response = put(en_client, integration, 'KM-1', b.order_body(**change))
    assert_error(response, 409, 'conflict')
    assert 'KM-1' in response.get_json()['error']['message']
    order = Order.get()
    assert (order.buyer.ref, order.merchant.ref) == ('b-1', 'm-1')
    # the refused request left nothing behind
    assert Buyer.select().count() == 1 and Merchant.select().count() == 1


@pytest.mark.parametrize('change, field', [
    ({'amount': '-1'}, 'amount'),
    ({'amount': '12.345'}, 'amount'),
    ({'amount': '1e3'}, 'amount'),
    ({'amount': ''}, 'amount'),
    ({'amount': '0'}, 'amount'),
    ({'amount': '99999999'}, 'amount'),
    ({'amount': 49.9}, 'amount'),
    ({'amount': 4990}, 'amount'),
    ({'amount': None}, 'amount'),
    ({'buyer': None}, 'buyer'),
    ({'buyer': ['b-1']}, 'buyer'),
    ({'buyer': 7}, 'buyer'),
    ({'buyer': {'name': '王伟'}}, 'buyer.ref'),
    ({'buyer': {'ref': 'b 1', 'name': '王伟'}}, 'buyer.ref'),
    ({'buyer': {'ref': 'b-1', 'name': '王伟', 'phone': '138\n1234'}}, 'buyer.phone'),
    ({'buyer': {'ref': 'b-1', 'name': ''}}, 'buyer.name'),
    ({'buyer': {'ref': 'b-1', 'name': '王伟', 'phone': 'call me'}}, 'buyer.phone'),
    ({'merchant': None}, 'merchant'),
    ({'merchant': {'ref': 'm-1'}}, 'merchant.name'),
    ({'product': None}, 'product'),
    ({'product': '  '}, 'product'),
    ({'product': 'x' * 201}, 'product'),
    ({'product': 42}, 'product'),
    ({'product': 'bad\x00name'}, 'product'),
    ({'region': 'line\nbreak'}, 'region'),
    ({'goods_type': 'weapon'}, 'goods_type'),
    ({'goods_type': None}, 'goods_type'),
    ({'goods_type': ['game_card']}, 'goods_type'),
    ({'payment_method': 'cash'}, 'payment_method'),
    ({'payment_method': None}, 'payment_method'),
    ({'paid_at': 'yesterday'}, 'paid_at'),
    ({'paid_at': None}, 'paid_at'),
    ({'paid_at': 1764000000}, 'paid_at'),
    ({'paid_at': '1970-01-01T00:00:00Z'}, 'paid_at'),
    ({'paid_at': '2026-13-01T00:00:00'}, 'paid_at'),
    ({'delivered_at': '2026-11-24T09:00:00+08:00'}, 'delivered_at'),  # before paid_at
    ({'confirmed_at': '2026-11-23T09:00:00+08:00'}, 'confirmed_at'),
    ({'card_code': 1234}, 'card_code'),
])
def test_each_invalid_field_is_422_naming_it(en_client, integration, change, field):
    response = put(en_client, integration, 'KM-1', b.order_body(**change))  # None drops the field
    assert_error(response, 422, 'invalid', field)
    assert Order.select().count() == 0


def test_every_bad_field_is_named_at_once(en_client, integration):
    response = put(en_client, integration, 'KM-1', b.order_body(amount='-1', goods_type='x', payment_method='y'))
    error = assert_error(response, 422, 'invalid')
    assert {'amount', 'goods_type', 'payment_method'} <= set(error['fields'])


@pytest.mark.parametrize('order_no', ['KM%201', 'K' * 65, 'KM%E4%B8%AD', 'KM.1', 'KM%001',
                                      'KM-1%0A', '%20KM-1'])
def test_bad_order_numbers_are_422(en_client, integration, order_no):
    assert_error(put(en_client, integration, order_no, b.order_body()), 422, 'invalid', 'order_no')


def test_longest_order_number_is_accepted(en_client, integration):
    assert put(en_client, integration, 'K' * 64, b.order_body()).status_code == 201


@pytest.mark.parametrize('kwargs', [
    {'data': 'order_no=KM-1', 'content_type': 'application/x-www-form-urlencoded'},
    {'data': 'not json', 'content_type': 'text/plain'},
    {'data': '{"buyer": ', 'content_type': 'application/json'},
    {'data': '', 'content_type': 'application/json'},
    {'json': [b.order_body()]},
    {'json': 'a string'},
    {'json': None},
])
def test_bodies_that_are_not_a_json_object_are_422(en_client, integration, kwargs):
    response = en_client.put(URL + 'KM-1', headers=integration, **kwargs)
    assert_error(response, 422, 'invalid')
    assert Order.select().count() == 0


@pytest.mark.parametrize('headers', [
    {},
    {'Authorization': 'Bearer'},
    {'Authorization': 'Bearer nonsense'},
    {'Authorization': 'Bearer dk_0000_nonsense'},
    {'Authorization': 'Basic dXNlcjpwYXNz'},
    {'Authorization': 'Bearer dk_\u00e4_x'},
])
def test_missing_or_invalid_key_is_401(en_client, headers):
    for response in (en_client.put(URL + 'KM-1', json=b.order_body(), headers=headers),
                     en_client.get(URL + 'KM-1', headers=headers)):
        assert_error(response, 401, 'unauthorized')
        assert response.headers['WWW-Authenticate'] == 'Bearer'


def test_a_tampered_key_is_401(en_client, users, api_key, integration):
    prefix_ok = integration['Authorization'][:-4] + 'AAAA'
    assert_error(en_client.get(URL + 'KM-1', headers={'Authorization': prefix_ok}), 401, 'unauthorized')


def test_revoked_key_is_401(en_client, users):
    from desk.parties.accounts import create_api_key, revoke_api_key
    admin = users('admin')
    key, secret = create_api_key(users('integration'), 'x')
    headers = {'Authorization': f'Bearer {secret}'}
    assert put(en_client, headers, 'KM-1', b.order_body()).status_code == 201
    revoke_api_key(admin, key.id)
    assert_error(put(en_client, headers, 'KM-1', b.order_body()), 401, 'unauthorized')


def test_key_of_a_deactivated_user_is_401(en_client, users, api_key):
    from desk.parties.accounts import update_user
    user = users('integration')
    headers = api_key(user)
    update_user(user, active=False)
    assert_error(put(en_client, headers, 'KM-1', b.order_body()), 401, 'unauthorized')


@pytest.fixture
def people(users, api_key, integration, en_client):
    """Two buyers and two merchants with keys, and order KM-1 of b-1 at m-1."""
    assert put(en_client, integration, 'KM-1', b.order_body(buyer='b-1', merchant='m-1')).status_code == 201
    assert put(en_client, integration, 'KM-2', b.order_body(buyer='b-2', merchant='m-2')).status_code == 201
    return {
        'buyer': api_key(users('buyer', buyer_ref='b-1')),
        'other_buyer': api_key(users('buyer', buyer_ref='b-2')),
        'merchant': api_key(users('merchant_staff', merchant_ref='m-1')),
        'other_merchant': api_key(users('merchant_staff', merchant_ref='m-2')),
        'agent': api_key(users('agent')),
        'supervisor': api_key(users('supervisor')),
        'integration': integration,
    }


@pytest.mark.parametrize('who', ['buyer', 'merchant', 'agent', 'supervisor'])
def test_only_the_integration_may_push(en_client, people, who):
    response = put(en_client, people[who], 'KM-1', b.order_body(product='改过的'))
    assert_error(response, 403, 'forbidden')
    assert put(en_client, people[who], 'KM-NEW', b.order_body()).status_code == 403
    assert Order.select().count() == 2
    assert Order.get(Order.order_no == 'KM-1').product == '王者荣耀 点券 600'


@pytest.mark.parametrize('who, status', [
    ('buyer', 200), ('other_buyer', 404), ('merchant', 200), ('other_merchant', 404),
    ('agent', 200), ('supervisor', 200), ('integration', 200),
])
def test_who_may_read_an_order(en_client, people, who, status):
    response = en_client.get(URL + 'KM-1', headers=people[who])
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()['order_no'] == 'KM-1'
    else:
        error = assert_error(response, 404, 'not_found')
        assert 'b-1' not in str(error) and '王伟' not in str(error)


def test_unknown_order_is_404_like_a_hidden_one(en_client, people):
    hidden = en_client.get(URL + 'KM-1', headers=people['other_buyer']).get_json()
    missing = en_client.get(URL + 'KM-NOPE', headers=people['other_buyer']).get_json()
    assert hidden['error']['code'] == missing['error']['code'] == 'not_found'


@pytest.mark.parametrize('order_no', ['KM%001', 'K' * 300, '%E4%B8%AD%E6%96%87', 'KM-1%0A'])
def test_reading_a_malformed_order_number_is_404(en_client, people, order_no):
    assert_error(en_client.get(URL + order_no, headers=people['agent']), 404, 'not_found')


def test_phone_is_masked_for_every_reader(en_client, people):
    for who in ('buyer', 'merchant', 'agent', 'integration'):
        data = en_client.get(URL + 'KM-1', headers=people[who]).get_json()
        assert data['buyer']['phone'] == '138****1234'
        assert '13812341234' not in en_client.get(URL + 'KM-1', headers=people[who]).get_data(as_text=True)


def test_card_code_is_never_returned_or_stored_in_clear(en_client, integration):
    response = put(en_client, integration, 'KM-1', b.order_body(card_code=CARD))
    assert CARD not in response.get_data(as_text=True)
    assert response.get_json()['card_code'] == '****5678'
    assert CARD not in en_client.get(URL + 'KM-1', headers=integration).get_data(as_text=True)
    cursor = database.execute_sql('SELECT * FROM "order"')
    row = cursor.fetchone()
    assert not any(CARD in str(value) for value in row)
    order = Order.get()
    assert order.card_last4 == '5678'
    assert len(order.card_hash) == 64 and 'ABCD' not in order.card_hash
    # the same code hashes the same (a reported code can be matched), another does not
    put(en_client, integration, 'KM-2', b.order_body(card_code=CARD))
    put(en_client, integration, 'KM-3', b.order_body(card_code='ZZZZ-5678'))
    hashes = {o.order_no: o.card_hash for o in Order.select()}
    assert hashes['KM-1'] == hashes['KM-2'] != hashes['KM-3']


def test_unknown_api_path_is_json_404(en_client, integration):
    for path in ('/api/v1/whatever', '/api/v1/', '/api/v2/orders/KM-1', '/api/v1/orders/'):
        response = en_client.get(path, headers=integration)
        assert_error(response, 404, 'not_found')


@pytest.mark.parametrize('method', ['post', 'delete', 'patch'])
def test_wrong_method_is_json_405(en_client, integration, method):
    response = getattr(en_client, method)(URL + 'KM-1', json=b.order_body(), headers=integration)
    assert_error(response, 405, 'method_not_allowed')


def test_api_answers_in_english_unless_asked(app, integration):
    client_for = isolated_client
    chinese_browser = client_for(app, language='zh-CN,zh;q=0.9')
    response = chinese_browser.get(URL + 'KM-1', headers={**integration, 'Accept-Language': 'zh-CN'})
    assert response.status_code == 404
    plain = client_for(app, language=None).get(URL + 'KM-1', headers=integration)
    assert plain.get_json()['error']['message'].isascii()


def test_concurrent_first_puts_make_one_order(app, integration):
    """Two marketplace retries of the same new order race; one row, one 201, no 500."""
    clients = [isolated_client(app) for _ in range(2)]
    barrier = threading.Barrier(len(clients))
    results = []

    def push(client):
        barrier.wait()
        response = client.put(URL + 'KM-RACE', json=b.order_body(buyer='b-race', merchant='m-race'),
                              headers=integration)
        results.append(response.status_code)

    threads = [threading.Thread(target=push, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 201]
    assert Order.select().where(Order.order_no == 'KM-RACE').count() == 1
    assert Buyer.select().where(Buyer.ref == 'b-race').count() == 1
    assert Merchant.select().where(Merchant.ref == 'm-race').count() == 1


def test_concurrent_new_orders_of_a_new_buyer(app, integration):
    """Different orders of one new buyer and merchant at once: both land, one buyer row."""
    clients = [isolated_client(app) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    results = []

    def push(client, n):
        barrier.wait()
        response = client.put(URL + f'KM-R{n}', json=b.order_body(buyer='b-new', merchant='m-new'),
                              headers=integration)
        results.append(response.status_code)

    threads = [threading.Thread(target=push, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [201] * 4
    assert Order.select().count() == 4
    assert Buyer.select().where(Buyer.ref == 'b-new').count() == 1


def test_a_nul_byte_in_the_query_is_a_json_400(en_client, integration):
    response = en_client.get(URL + 'KM-1?view=%00', headers=integration)
    assert_error(response, 400, 'bad_request')


def test_a_nul_in_a_text_field_is_422_from_the_service_itself(app):
    """The API refuses NUL in any JSON body; the CSV import reaches `validate_order` directly."""
    from desk.core.errors import Invalid
    from desk.orders.orders import validate_order
    with pytest.raises(Invalid) as err:
        validate_order('KM-1', b.order_body(product='bad\x00name'))
    assert err.value.status == 422 and set(err.value.fields) == {'product'}
