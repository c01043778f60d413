"""Helpers shared by the foundation tests (fixtures stay in conftest.py).

Why `IsolatedClient`: the `app` fixture keeps an application context pushed for the whole
test so that services can be called directly. Flask reuses a pushed context of the same app
for every test-client request, so `g` (where Flask-Login caches the current user) and the
per-request database teardown would be shared between requests and between clients: a second
client would act as the first client's user. This client gives each request its own
application context, as a real server does.
"""
import contextvars
import os
import threading

from flask.globals import _cv_app
from flask.testing import FlaskClient

#: The repository's root (the tests read the README, the catalogue, the Makefile … from it and
#: start `rq` there, as the Procfile does).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class IsolatedClient(FlaskClient):
    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


def isolated_client(app, language='en', addr=None):
    """A test client for `app` with a fresh app context per request; `language` pins the
    interface language (the default English keeps assertions readable), `addr` the client's
    address."""
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    if language:
        client.environ_base['HTTP_ACCEPT_LANGUAGE'] = language
    if addr:
        client.environ_base['REMOTE_ADDR'] = addr
    return client


MERCHANT_NAMES = {'m-1': '星耀游戏点卡专营店', 'm-2': '速通话费充值'}


def order_body(buyer='b-1', merchant='m-1', **fields):
    """A valid `PUT /api/v1/orders/<no>` body. `buyer`/`merchant` are refs (or the whole
    value to send); keyword arguments replace fields, None drops one."""
    if isinstance(buyer, str):
        buyer = {'ref': buyer, 'name': '王伟', 'phone': '13812341234'}
    if isinstance(merchant, str):
        merchant = {'ref': merchant, 'name': MERCHANT_NAMES.get(merchant, '商家 ' + merchant)}
    body = {
        'buyer': buyer,
        'merchant': merchant,
        'product': '王者荣耀 点券 600',
        'sku': 'WZ-600',
        'goods_type': 'game_card',
        'amount': '49.90',
        'paid_at': '2026-11-24T09:30:00+08:00',
        'delivered_at': '2026-11-24T09:31:00+08:00',
        'payment_method': 'alipay',
        'region': '广东',
    }
    for key in ('buyer', 'merchant'):
        if body[key] is None:
            del body[key]
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def push_order(order_no, buyer='b-1', merchant='m-1', **fields):
    """Create an order through the same service the integration uses; returns the Order."""
    from desk.parties.models import User
    from desk.orders.orders import upsert_order
    integration = User.get_or_none(User.username == '_integration')
    if integration is None:
        from desk.parties.accounts import create_user
        integration = create_user('_integration', 'integration-pass-1', 'integration')
    order, _created = upsert_order(integration, order_no, order_body(buyer, merchant, **fields))
    return order


def isolated_cli(app):
    """`invoke('create-user', …)` runs `flask desk …` of `app` in its own app context (the
    CLI would otherwise run inside the context the `app` fixture keeps pushed, whatever app
    the runner was made for)."""
    runner = app.test_cli_runner()

    def invoke(*args):
        return contextvars.Context().run(runner.invoke, args=['desk', *args])
    return invoke


def run_together(app, *functions, timeout=60):
    """Run each function in its own thread with its own app context and database connection,
    released together by a barrier (a race); returns their results in order. A function
    that raised or a thread that hung fails the test."""
    from desk.core.db import connection
    barrier = threading.Barrier(len(functions), timeout=timeout)
    results = [None] * len(functions)

    def runner(index, function):
        try:
            with app.app_context(), connection():
                barrier.wait()
                results[index] = function()
        except Exception as err:  # reported below
            results[index] = err

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), 'a thread hung'
    assert not any(isinstance(r, Exception) for r in results), results
    return results
