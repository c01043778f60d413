"""The same file uploaded twice at the same moment (a double click, a retry racing the first
try): both requests succeed, the bytes are stored once under one `Blob` row, both items are
listed, and the case's timeline stays one intact chain. Meant for PostgreSQL (parallel
transactions); on SQLite the writers are serialised and the same assertions hold."""
import threading

from desk.cases.models import Blob, Evidence
from desk.cases.timeline import verify_chain
from tests import builders as b
from tests.support import isolated_client

ROUNDS = 10


def test_the_same_file_twice_at_once(app, users, api_key, frozen):
    case = b.forced_dispute('O-1')
    buyer = api_key(b.buyer_login('b-1'))
    merchant = api_key(b.staff_user(users, 'm-1'))
    for n in range(ROUNDS):
        data = b.png_bytes((20 + n, 20), (n, 1, 2))
        statuses = []
        barrier = threading.Barrier(2, timeout=30)

        def send(headers, name):
            client = isolated_client(app)
            barrier.wait()
            response = client.post(f'/api/v1/complaints/{case.ticket_no}/evidence', headers=headers,
                                   data=b.upload(data, name), content_type='multipart/form-data')
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=(buyer, 'a.png')),
                   threading.Thread(target=send, args=(merchant, 'b.png'))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert statuses == [201, 201], statuses
    assert Evidence.select().where(Evidence.complaint == case.id).count() == 2 * ROUNDS
    image_blobs = Blob.select().where(Blob.sha256.in_(Evidence.select(Evidence.sha256))).count()
    assert image_blobs == ROUNDS
    assert verify_chain(case.id) is None
