"""Job functions of the dispute side, for RQ workers and the inline runner alike.

Each takes ids (here: a blob's SHA-256), never model objects, and is idempotent.
"""
import io
import logging

from PIL import Image, ImageOps

from arbitration import storage_sweep
from arbitration.health import merchant_health
from arbitration.storage import get_storage
from desk.cases.models import Blob
from desk.core.tasks import job

log = logging.getLogger(__name__)

THUMBNAIL_PX = 320


def render_thumbnail(data):
    """(bytes, mime) of a thumbnail at most 320 px on each side, EXIF and every other
    metadata dropped (the pixels are re-encoded; the orientation is applied first)."""
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)  # the first frame of an animation
        image = ImageOps.exif_transpose(image)
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        keeps_alpha = image.mode in ('RGBA', 'LA') or (image.mode == 'P' and 'transparency' in image.info)
        out = io.BytesIO()
        if keeps_alpha:
            image.convert('RGBA').save(out, format='PNG', optimize=True)
            return out.getvalue(), 'image/png'
        image.convert('RGB').save(out, format='JPEG', quality=80)
        return out.getvalue(), 'image/jpeg'


@job
def make_thumbnail(sha256):
    """Make the thumbnail of image blob `sha256` (nothing when it already has one or the
    image cannot be read); True when this call made it."""
    blob = Blob.get_or_none(Blob.sha256 == sha256)
    if blob is None or not blob.mime.startswith('image/'):
        return False
    storage = get_storage()
    if blob.thumbnail_sha256 and storage.exists(blob.thumbnail_sha256):
        return False
    with storage.open(sha256) as f:
        data = f.read()
    try:
        thumb, mime = render_thumbnail(data)
    except Exception as err:  # a broken or hostile image: no thumbnail, the file stays downloadable
        log.warning('no thumbnail for blob %s: %s', sha256, err)
        return False
    digest = storage.put(thumb)
    (Blob
     .insert(sha256=digest, size=len(thumb), mime=mime)
     .on_conflict_ignore()
     .execute())
    Blob.update(thumbnail_sha256=digest).where(Blob.sha256 == sha256).execute()
    return True


@job
def refresh_merchant_health(merchant_ids=None):
    """Recompute the health figures (and today's snapshot) of `merchant_ids`, or of every
    merchant: daily by `rq cron`, and on demand from the backoffice."""
    return merchant_health.refresh(merchant_ids)


@job
def purge_orphan_files():
    """Daily: delete evidence files no row refers to (a failed upload's) and stray temporary
    files, once older than `DESK_ORPHAN_GRACE_SECONDS` (`storage_sweep.purge_orphans`)."""
    return tuple(storage_sweep.purge_orphans())
