"""Builders shared by the evidence tests: a merchant-path case in any state, the people around
it, and small files of each kind.

Fixtures stay in conftest.py; these are plain functions the test modules import.
"""
import datetime as dt
import io

from desk.cases import complaints
from desk.cases.models import Complaint
from desk.core import clock
from tests import case_builders as cb
from tests import complaint_helpers as h


def dispute(order_no='O-1', buyer_ref='b-1', merchant_ref='m-1', state=None, **columns):
    """A complaint on a new order through the merchant path (negotiating), moved to `state`
    with the given deadline columns when told."""
    h.order(order_no, buyer_ref=buyer_ref, merchant_ref=merchant_ref)
    filed = complaints.file_complaint(cb.buyer_login(buyer_ref), h.body(order_no))
    changes = dict(columns)
    if state:
        changes['state'] = state
    if changes:
        Complaint.update(**changes).where(Complaint.id == filed.id).execute()
    return Complaint.get_by_id(filed.id)


def in_arbitration(order_no='O-1', due_in=dt.timedelta(hours=48), **kwargs):
    return dispute(order_no, state='in_arbitration', evidence_due_at=clock.now() + due_in, **kwargs)


def png_bytes(size=(40, 30), color=(200, 30, 30)):
    from PIL import Image
    out = io.BytesIO()
    Image.new('RGB', size, color).save(out, format='PNG')
    return out.getvalue()


def jpeg_with_exif(size=(1200, 800)):
    """A JPEG carrying EXIF (camera make, GPS-like text and an orientation)."""
    from PIL import Image
    image = Image.new('RGB', size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = 'SecretCam'          # Make
    exif[0x0131] = 'Location 31.2N'     # Software (any text survives in EXIF)
    exif[0x0112] = 1                    # Orientation
    out = io.BytesIO()
    image.save(out, format='JPEG', exif=exif.tobytes())
    return out.getvalue()


PDF = b'%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'
HTML = b'<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>'
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b'<script>alert(document.domain)</script></svg>')
CHAT = '买家: 卡密 ABCD-1234-5678-9012 用不了\n商家: 请提供手机号\n买家: 13812345678\n'.encode()


def upload(file_bytes, name='shot.png', kind='error_screenshot', description='', **extra):
    """A multipart body for the test client."""
    data = {'kind': kind, 'description': description, 'file': (io.BytesIO(file_bytes), name)}
    data.update({k: str(v) for k, v in extra.items()})
    return data
