"""The content-addressed store under DESK_DATA_DIR, and the API's evidence representation
against the OpenAPI document."""
import hashlib
import os

import pytest

from arbitration.storage import LocalStorage, get_storage, is_sha256
from tests import builders as b
from tests.support import assert_valid


def test_put_open_exists(tmp_path):
    store = LocalStorage(str(tmp_path))
    digest = store.put(b'hello')
    assert digest == hashlib.sha256(b'hello').hexdigest()
    assert store.exists(digest)
    assert store.path(digest) == os.path.join(str(tmp_path), digest[:2], digest[2:4], digest)
    with store.open(digest) as f:
        assert f.read() == b'hello'
    assert not store.exists('0' * 64)
    with pytest.raises(FileNotFoundError):
        store.open('0' * 64)


def test_the_same_bytes_are_stored_once(tmp_path):
    store = LocalStorage(str(tmp_path))
    assert store.put(b'same') == store.put(b'same')
    files = [n for _d, _s, names in os.walk(tmp_path) for n in names]
    assert files == [hashlib.sha256(b'same').hexdigest()]


def test_a_discarded_write_leaves_nothing(tmp_path):
    store = LocalStorage(str(tmp_path))
    with store.writer() as writer:
        writer.write(b'half an upload')
    assert [n for _d, _s, names in os.walk(tmp_path) for n in names] == []


def test_names_that_are_not_a_sha256_are_refused(tmp_path):
    store = LocalStorage(str(tmp_path))
    for bad in ('../../etc/passwd', 'ab' * 31 + '/x', 'A' * 64, ''):
        assert not is_sha256(bad)
        assert not store.exists(bad)
        with pytest.raises(ValueError):
            store.path(bad)


def test_the_app_stores_under_data_dir(app):
    assert get_storage().root == os.path.abspath(app.config['DATA_DIR'])


def test_the_default_data_dir_is_evidence_in_the_instance_folder(make_app):
    other = make_app(DATA_DIR=None)
    assert other.config['DATA_DIR'] == os.path.join(other.instance_path, 'evidence')


def test_the_evidence_schema_is_the_real_representation(client, users, api_key, frozen):
    case = b.forced_dispute('O-1')
    headers = api_key(b.buyer_login('b-1'))
    document = client.get('/api/openapi.json').get_json()
    response = client.post(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=headers,
                           data=b.upload(b.png_bytes()), content_type='multipart/form-data')
    assert response.status_code == 201
    item = response.get_json()
    assert set(document['components']['schemas']['Evidence']['required']) == set(item)
    assert_valid(document, 'Evidence', item)
    listed = client.get(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=headers).get_json()
    assert_valid(document, 'EvidenceList', listed)
    assert listed['items'][0]['thumbnail_url'] == f'/evidence/{item["id"]}/thumbnail'
    refused = client.post(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=headers,
                          data=b.upload(b.SVG, 'a.png'), content_type='multipart/form-data')
    assert refused.status_code == 415
    assert_valid(document, 'Error', refused.get_json())
    post = document['paths']['/complaints/{ticket_no}/evidence']['post']
    assert set(post['requestBody']['content']) == {'multipart/form-data', 'application/json'}
    assert {'413', '415', '409', '422'} <= set(post['responses'])
