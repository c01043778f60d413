"""Interface language (SPEC §11): Chinese by default, English on request, the header switch,
Flask-Admin's and WTForms' own strings, API error language, money and local times — and a
catalogue check that fails while any string in the source is untranslated.

Adding a string: wrap it in `_()` / `_l()` (templates: `{{ _('...') }}`), run `make messages`,
translate the new entries in translations/zh/LC_MESSAGES/messages.po, run `make translations`.
"""
import datetime as dt
import os
import re
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import TranslationError
from babel.messages.checkers import python_format
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import render_template_string

from desk.orders import orders
from desk.parties import accounts
from tests.support import MO, PO, ROOT, ensure_compiled, forget_loaded_translations, login, page_text

ZH = {'Accept-Language': 'zh-CN,zh;q=0.9'}
EN = {'Accept-Language': 'en-US,en;q=0.9'}


@pytest.fixture(scope='module', autouse=True)
def compiled_catalogue(base_app):
    if ensure_compiled():
        with base_app.app_context():
            forget_loaded_translations(base_app)


# --- default language, Accept-Language and the switch ------------------------------------

def test_login_page_is_chinese_by_default(client):
    page = client.get('/login')
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    text = page_text(page)
    assert '登录仲裁台' in text
    assert '用户名' in text and '密码' in text
    assert 'Log in' not in text
    assert 'English' in text  # the switch offers the other language


def test_backoffice_home_is_chinese_by_default(client, users):
    users('agent', username='xiaoli')
    assert login(client, 'xiaoli').status_code == 302
    page = client.get('/admin/')
    assert page.status_code == 200
    text = page_text(page)
    assert '后台首页' in text
    assert '仲裁台' in text
    assert '近 24 小时支付订单' in text and '在线客服' in text
    assert '退出登录' in text
    assert 'Backoffice home' not in text


def test_accept_language_english(client, users):
    page = client.get('/login', headers=EN)
    text = page_text(page)
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert 'Log in to Arbiter Desk' in text and 'Username' in text
    assert '登录' not in text
    assert '中文' in text
    users('agent', username='xiaoli')
    login(client, 'xiaoli')
    text = page_text(client.get('/admin/', headers=EN))
    assert 'Backoffice home' in text and 'Orders paid in the last 24 hours' in text
    assert 'Log out' in text


def test_switch_overrides_accept_language_for_the_session(client, users):
    users('agent', username='xiaoli')
    login(client, 'xiaoli')
    assert '后台首页' in page_text(client.get('/admin/', headers=ZH))

    switched = client.get('/lang/en?next=/admin/', headers=ZH)
    assert switched.status_code == 302
    assert urlsplit(switched.headers['Location']).path == '/admin/'
    text = page_text(client.get('/admin/', headers=ZH))
    assert 'Backoffice home' in text and '后台首页' not in text
    assert '中文' in text  # now offers the way back

    client.get('/lang/zh?next=/admin/', headers=EN)
    text = page_text(client.get('/admin/', headers=EN))
    assert '后台首页' in text and 'Backoffice home' not in text


def test_switch_link_returns_to_the_current_page(client, users):
    users('agent', username='xiaoli')
    login(client, 'xiaoli')
    html = client.get('/admin/').get_data(as_text=True)
    link = re.search(r'id="lang-switch" href="([^"]+)"', html).group(1)
    assert link.startswith('/lang/en?') and 'next=/admin/' in link.replace('%2F', '/')
    back = client.get(link.replace('&amp;', '&'))
    assert urlsplit(back.headers['Location']).path == '/admin/'


def test_unknown_language_code_changes_nothing(client):
    client.get('/lang/fr')
    assert '登录仲裁台' in page_text(client.get('/login'))


@pytest.mark.parametrize('target', [
    'https://evil.example/phish', '//evil.example/phish', '///evil.example', '/\\evil.example',
    'javascript:alert(1)', 'http:/evil.example',
])
def test_switch_redirects_only_to_relative_next(client, target):
    response = client.get('/lang/en', query_string={'next': target})
    assert response.status_code == 302
    location = response.headers['Location']
    assert 'evil' not in location and 'javascript' not in location
    assert urlsplit(location).netloc in ('', 'localhost')
    assert urlsplit(location).path == '/'


# --- Flask-Admin's and WTForms' own strings ----------------------------------------------

def test_flask_admin_strings_follow_the_language(client, users):
    users('admin', username='root')
    login(client, 'root')
    text = page_text(client.get('/admin/users/'))
    assert '列表' in text and '添加筛选器' in text and '搜索' in text  # Flask-Admin's catalogue
    assert '用户名' in text and '接单上限' in text                       # our column labels
    assert 'Add Filter' not in text
    client.get('/lang/en')
    text = page_text(client.get('/admin/users/'))
    assert 'List' in text and 'Add Filter' in text and 'Username' in text
    assert '列表' not in text


def test_wtforms_messages_are_chinese(client):
    page = client.get('/login')
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post('/login', data={'username': '', 'password': '', 'csrf_token': token})
    assert response.status_code == 422
    assert '该字段是必填字段' in page_text(response)


def test_domain_errors_on_pages_are_translated(client, users):
    users('agent', username='xiaoli')
    response = login(client, 'xiaoli', password='wrong-password-1')
    assert '用户名或密码错误。' in page_text(response)
    assert '页面不存在。' in page_text(client.get('/no/such/page'))
    assert 'There is no such page.' in page_text(client.get('/no/such/page', headers=EN))


# --- API ---------------------------------------------------------------------------------

def test_api_errors_default_to_english(client):
    response = client.get('/api/v1/orders/A1')
    assert response.status_code == 401
    assert response.get_json()['error']['message'] == 'Send an API key as "Authorization: Bearer <key>".'


def test_api_errors_in_chinese_on_request(client):
    response = client.get('/api/v1/orders/A1', headers=ZH)
    assert response.status_code == 401
    assert 'API 密钥' in response.get_json()['error']['message']


def test_api_ignores_the_ui_language_switch(client):
    client.get('/lang/zh')
    response = client.get('/api/v1/orders/A1')
    assert response.get_json()['error']['message'].startswith('Send an API key')


def test_api_field_errors_in_chinese(client, users, api_key):
    headers = dict(api_key(users('integration')), **ZH)
    response = client.put('/api/v1/orders/A1', json={'amount': '49.999'}, headers=headers)
    assert response.status_code == 422
    error = response.get_json()['error']
    assert error['message'] == '订单中有字段不合规。'
    assert error['fields']['product'] == '必填'


# --- money and time ----------------------------------------------------------------------

def test_money_filter(app):
    with app.test_request_context():
        assert render_template_string('{{ 4990|money }}') == '¥49.90'
        assert render_template_string('{{ 1|money }}') == '¥0.01'
        assert render_template_string('{{ 123456789|money }}') == '¥1,234,567.89'
        assert render_template_string('{{ none|money }}') == ''


def test_localtime_filter_uses_beijing_time(app):
    with app.test_request_context():
        utc = dt.datetime(2026, 11, 24, 2, 0, 0)
        assert render_template_string('{{ t|localtime }}', t=utc) == '2026-11-24 10:00'
        late = dt.datetime(2026, 11, 24, 20, 30, 0)  # the next day in Beijing
        assert render_template_string('{{ t|localtime }}', t=late) == '2026-11-25 04:30'


def _push_order(app, users):
    actor = users('integration')
    with app.test_request_context():
        order, _created = orders.upsert_order(actor, 'A1', {
            'buyer': {'ref': 'b1', 'name': '小王', 'phone': '13800138000'},
            'merchant': {'ref': 'm1', 'name': '星辰游戏'},
            'product': '点卡 100 元', 'goods_type': 'game_card', 'payment_method': 'alipay',
            'amount': '49.90', 'paid_at': '2026-11-24T18:00:00+08:00'})
    return order


def test_buyer_page_shows_yuan_and_beijing_time(client, app, users):
    _push_order(app, users)
    accounts.create_user('wang', 'correct-horse-9', 'buyer', buyer_ref='b1')
    login(client, 'wang')
    text = page_text(client.get('/buyer/'))
    assert '¥49.90' in text
    assert '2026-11-24 18:00' in text
    assert '我的订单' in text


def test_api_times_carry_the_beijing_offset(client, app, users, api_key):
    _push_order(app, users)
    body = client.get('/api/v1/orders/A1', headers=api_key(users('admin'))).get_json()
    assert body['paid_at'] == '2026-11-24T18:00:00+08:00'
    assert body['amount'] == '49.90'


def test_console_lists_show_yuan(client, app, users):
    _push_order(app, users)
    users('admin', username='root')
    login(client, 'root')
    assert '¥49.90' in page_text(client.get('/admin/orders/'))


def test_console_lists_show_beijing_time(client, app, users):
    _push_order(app, users)
    users('admin', username='root')
    login(client, 'root')
    text = page_text(client.get('/admin/orders/'))
    assert '2026-11-24 18:00' in text


# --- the catalogue -----------------------------------------------------------------------

def _makefile_keywords():
    """The extra gettext keywords `make messages` passes to pybabel (one source of truth)."""
    with open(os.path.join(ROOT, 'Makefile'), encoding='utf-8') as f:
        match = re.search(r'^BABEL_KEYWORDS\s*:?=(.*)$', f.read(), re.M)
    assert match, 'Makefile has no BABEL_KEYWORDS line for `make messages`'
    names = re.findall(r'-k\s*(\S+)', match.group(1))
    return parse_keywords(names)


def extract_source_messages():
    """{(context, msgid): {files}} for every translatable string in the source, found the way
    `make messages` finds them: babel.cfg's mapping plus the Makefile's keywords."""
    with open(os.path.join(ROOT, 'babel.cfg'), encoding='utf-8') as f:
        method_map, options_map = parse_mapping_cfg(f, filename='babel.cfg')
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(_makefile_keywords())
    found = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords):
        msgid = message[0] if isinstance(message, (list, tuple)) else message
        if msgid:
            found.setdefault((context, msgid), set()).add(filename)
    return found


def _read_catalogue():
    with open(PO, 'rb') as f:
        return read_po(f, locale='zh')


def test_catalogue_header():
    catalog = _read_catalogue()
    assert catalog.plural_forms == 'nplurals=1; plural=0;'
    assert not catalog.fuzzy, 'the catalogue header is marked fuzzy: pybabel compile would skip it'


def test_extraction_finds_the_strings():
    found = extract_source_messages()
    ids = {msgid for _ctx, msgid in found}
    # one from each kind of source: python _(), python _l(), a template
    assert {'Wrong username or password.', 'Merchant console', 'Backoffice home'} <= ids
    assert len(ids) > 50


def test_every_source_string_is_translated():
    """Run `make messages`, then translate what this lists in
    translations/zh/LC_MESSAGES/messages.po (and drop the `#, fuzzy` flags)."""
    catalog = _read_catalogue()
    problems = []
    for (context, msgid), files in sorted(extract_source_messages().items(), key=lambda kv: kv[0][1]):
        entry = catalog.get(msgid, context=context)
        where = ', '.join(sorted(files))
        if entry is None:
            problems.append(f'missing       {msgid!r}  ({where})')
        elif entry.fuzzy:
            problems.append(f'fuzzy         {msgid!r}  ({where})')
        elif not all(entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]):
            problems.append(f'untranslated  {msgid!r}  ({where})')
    assert not problems, (
        f'{len(problems)} string(s) need a Chinese translation: run `make messages` and edit '
        f'{os.path.relpath(PO, ROOT)}\n' + '\n'.join(problems))


PLACEHOLDER = re.compile(r'%\(\w+\)[#0\- +]*\d*(?:\.\d+)?[a-zA-Z]')


def test_translations_keep_placeholders():
    """Every %(name)s of the English string appears, unchanged, in the Chinese one."""
    catalog = _read_catalogue()
    broken = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue  # fuzzy guesses are not compiled; the completeness test lists them
        try:
            python_format(catalog, message)  # babel's own check (unknown names, types)
        except TranslationError as err:
            broken.append(f'{message.id!r}: {err}')
        ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        expected = sorted(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != expected:
                broken.append(f'{message.id!r} -> {string!r}: placeholders {expected}')
        if expected and 'python-format' not in message.flags:
            broken.append(f'{message.id!r}: lost its python-format flag')
    assert not broken, 'placeholders differ between English and Chinese:\n' + '\n'.join(broken)


def test_compiled_catalogue_is_current():
    ensure_compiled()
    with open(MO, 'rb') as f:
        compiled = read_mo(f)
    assert compiled.get('Arbiter Desk').string == '仲裁台'
