"""Smoke: the app starts on a fresh database, an admin logs in and the backoffice home answers."""
from tests.support import login


def test_admin_logs_in_and_sees_home(client, users):
    users('admin', username='root')
    response = login(client, 'root')
    assert response.status_code == 302
    assert response.headers['Location'].endswith('/admin/')
    page = client.get('/admin/', headers={'Accept-Language': 'zh-CN'})
    assert page.status_code == 200
