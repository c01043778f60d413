"""A live server for the browser tests: the real app (the `app` fixture, on the test database)
served by werkzeug on 127.0.0.1 with a free port, in a daemon thread."""
import re
import threading
import time

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD
from tests.support import ensure_compiled, forget_loaded_translations

BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']


@pytest.fixture
def live_server(app):
    """Base URL of the running app, e.g. http://127.0.0.1:41234; stopped after the test.

    Requests are served in other threads, each with its own application context, so nothing
    the test itself has pushed leaks into them.
    """
    if ensure_compiled():
        forget_loaded_translations(app)
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name='live-server', daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_port}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A page in a fresh Chinese-speaking browser context (Accept-Language: zh-CN)."""
    context = browser.new_context(locale='zh-CN', timezone_id='Asia/Shanghai',
                                  viewport={'width': 1280, 'height': 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def login(page, base, path, username):
    """Open `path` (the login page redirects back to it), sign in as `username` in the real
    browser `page`, wait for it. (`tests.support.login` posts the form through a test client.)"""
    page.goto(base + path)
    page.fill('#username', username)
    page.fill('#password', PASSWORD)
    page.click('#login-submit')
    page.wait_for_url(re.compile(re.escape(path) + '$'))


def chinese_context(browser):
    """Another person's browser: a fresh Chinese-speaking context (close it when done)."""
    context = browser.new_context(locale='zh-CN', timezone_id='Asia/Shanghai',
                                  viewport={'width': 1280, 'height': 900})
    context.set_default_timeout(15000)
    return context


def wait_for(predicate, seconds=10):
    """Poll `predicate` until true or `seconds` pass (what a live server and its inline jobs do
    happens in other threads); returns its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
