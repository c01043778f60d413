"""Accounts: users and roles, password hashing, login throttling and API keys.

Passwords are hashed with argon2id (memory-hard). API keys are long random secrets shown
once; the desk keeps only a prefix to find the key and a SHA-256 of the whole key.
"""
import datetime as dt
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from desk.core import clock
from desk.core.db import atomic
from desk.core.errors import Invalid, NotFound, Throttled, Unauthorized
from desk.parties.models import DEPARTMENTS, ROLES, ApiKey, Buyer, LoginFailure, Merchant, User

_hasher = PasswordHasher()
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
#: A hash of a random password, verified against when the username is unknown so that a
#: failed login takes the same time whether or not the account exists.
_dummy_hash = None


def use_fast_hashing():
    """Cheap argon2 parameters for the test suite (hashes stay valid argon2id)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _dummy_hash = None


def hash_password(password):
    return _hasher.hash(password)


def _check_password(password_hash, password):
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(username, password, role, display_name=None, department=None,
                merchant_ref=None, buyer_ref=None, capacity=10):
    """Create a user after checking the role's requirements; raises `Invalid` per field."""
    fields = {}
    username = (username or '').strip()
    if not username or len(username) > 64:
        fields['username'] = _('1 to 64 characters')
    elif _CONTROL.search(username):
        fields['username'] = _('must not contain control characters')
    elif User.select().where(User.username == username).exists():
        fields['username'] = _('already taken')
    if not password or len(password) < 8:
        fields['password'] = _('at least 8 characters')
    if role not in ROLES:
        fields['role'] = _('one of %(roles)s', roles=', '.join(ROLES))
    if role in ('agent', 'senior_agent') and department not in DEPARTMENTS:
        fields['department'] = _('agents need a department: %(d)s', d=', '.join(DEPARTMENTS))
    if department is not None and department not in DEPARTMENTS:
        fields['department'] = _('one of %(d)s', d=', '.join(DEPARTMENTS))
    merchant = buyer = None
    if role == 'merchant_staff':
        merchant = Merchant.get_or_none(Merchant.ref == (merchant_ref or ''))
        if merchant is None:
            fields['merchant'] = _('merchant staff need an existing merchant')
    if role == 'buyer':
        buyer = Buyer.get_or_none(Buyer.ref == (buyer_ref or ''))
        if buyer is None:
            fields['buyer'] = _('a buyer account needs an existing buyer')
    if fields:
        raise Invalid(_('The user could not be created.'), fields=fields)
    with atomic():
        return User.create(username=username, password_hash=hash_password(password),
                           display_name=display_name or username, role=role,
                           department=department, merchant=merchant, buyer=buyer,
                           capacity=capacity)


def set_password(user, password):
    if not password or len(password) < 8:
        raise Invalid(_('The password is too short.'), fields={'password': _('at least 8 characters')})
    user.password_hash = hash_password(password)
    user.save(only=[User.password_hash])


def _lock_remaining(key, limit, now):
    """Seconds until `key` may try again, or 0 when it is not locked."""
    window = current_app.config['LOGIN_LOCK_SECONDS']
    since = now - dt.timedelta(seconds=window)
    recent = (LoginFailure
              .select(LoginFailure.at)
              .where((LoginFailure.key == key) & (LoginFailure.at > since))
              .order_by(LoginFailure.at.desc())
              .limit(limit))
    times = [row.at for row in recent]
    if len(times) < limit:
        return 0
    return max(0, int((times[0] + dt.timedelta(seconds=window) - now).total_seconds()))


def authenticate(username, password, ip):
    """Return the active user for these credentials.

    Raises `Throttled` ("try again in N minutes") when the account or the address has too many
    recent failures, and `Unauthorized` with one message for every other failure, so the
    response never tells whether the account exists.
    """
    global _dummy_hash
    now = clock.now()
    username = (username or '').strip()
    # No account name holds a control character, and PostgreSQL text cannot hold NUL:
    # such a name is an ordinary failure, counted under its printable part.
    known_shape = not _CONTROL.search(username)
    user_key = 'user:' + _CONTROL.sub('', username).lower()[:100]
    ip_key = 'ip:' + _CONTROL.sub('', ip or '?')[:100]
    remaining = max(
        _lock_remaining(user_key, current_app.config['LOGIN_MAX_FAILURES'], now),
        _lock_remaining(ip_key, current_app.config['LOGIN_MAX_FAILURES_PER_IP'], now))
    if remaining:
        minutes = max(1, -(-remaining // 60))
        raise Throttled(_('Too many failed attempts. Try again in %(n)d minutes.', n=minutes),
                        retry_after=remaining)
    user = User.get_or_none(User.username == username) if known_shape else None
    if user is None:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_hex(16))
        _check_password(_dummy_hash, password or '')
    if user is None or not user.active or not _check_password(user.password_hash, password or ''):
        with atomic():
            LoginFailure.insert_many([{'key': user_key, 'at': now},
                                      {'key': ip_key, 'at': now}]).execute()
        raise Unauthorized(_('Wrong username or password.'))
    with atomic():
        LoginFailure.delete().where(LoginFailure.key == user_key).execute()
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            user.save(only=[User.password_hash])
    return user


def purge_login_failures():
    """Forget failures older than a day (periodic job); locks only look at recent ones."""
    cutoff = clock.now() - dt.timedelta(days=1)
    return LoginFailure.delete().where(LoginFailure.at < cutoff).execute()


def _digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(user, name=None):
    """Create a key for `user`; returns (ApiKey, secret). The secret is not stored anywhere."""
    if not user.active:
        raise Invalid(_('The user is not active.'))
    prefix = secrets.token_hex(4)
    secret = f'dk_{prefix}_{secrets.token_urlsafe(32)}'
    with atomic():
        key = ApiKey.create(user=user, name=(name or 'default')[:100], prefix=prefix,
                            key_hash=_digest(secret))
    return key, secret


def user_for_api_key(secret):
    """The active user a bearer key belongs to, or None for unknown/revoked/malformed keys."""
    parts = (secret or '').split('_')
    if len(parts) < 3 or parts[0] != 'dk':
        return None
    key = (ApiKey
           .select(ApiKey, User)
           .join(User)
           .where(ApiKey.prefix == parts[1])
           .first())
    if key is None or key.revoked_at is not None or not key.user.active:
        return None
    if not hmac.compare_digest(key.key_hash, _digest(secret)):
        return None
    now = clock.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.update(last_used_at=now).where(ApiKey.id == key.id).execute()
    return key.user


def revoke_api_key(actor, key_id):
    key = ApiKey.get_or_none(ApiKey.id == key_id)
    if key is None or (actor.role != 'admin' and key.user_id != actor.id):
        raise NotFound(_('No such API key.'))
    with atomic():
        ApiKey.update(revoked_at=clock.now()).where(ApiKey.id == key.id).execute()


def update_user(user, display_name=None, department=None, capacity=None, active=None, password=None):
    """Change what an admin may change on an account (not its username or role)."""
    fields = {}
    if department is not None and department not in DEPARTMENTS:
        fields['department'] = _('one of %(d)s', d=', '.join(DEPARTMENTS))
    if user.role in ('agent', 'senior_agent') and department is None:
        fields['department'] = _('agents need a department: %(d)s', d=', '.join(DEPARTMENTS))
    if capacity is not None and not 0 <= capacity <= 500:
        fields['capacity'] = _('between 0 and 500')
    if password is not None and len(password) < 8:
        fields['password'] = _('at least 8 characters')
    if fields:
        raise Invalid(_('The user could not be saved.'), fields=fields)
    with atomic():
        if display_name:
            user.display_name = display_name[:200]
        user.department = department
        if capacity is not None:
            user.capacity = capacity
        if active is not None:
            user.active = bool(active)
        if password:
            user.password_hash = hash_password(password)
        user.save()
    return user


def buyer_user_for(buyer):
    """The portal account of a marketplace buyer, created on their first signed-link visit.

    It has no usable password: such buyers only ever arrive through links the marketplace
    signs for them.
    """
    user = User.get_or_none((User.buyer == buyer.id) & (User.role == 'buyer'))
    if user is not None:
        return user
    with atomic():
        return User.create(username=f'buyer-{buyer.ref}'[:64], role='buyer', buyer=buyer.id,
                           display_name=buyer.display_name,
                           password_hash=hash_password(secrets.token_urlsafe(32)))


def supervisor_ids():
    """Ids of every active supervisor: who hears about breaches, dissatisfied ratings, overdue
    reviews, unconfirmed remedies and penalty appeals (supervisors are not per department)."""
    return [u.id for u in User.select(User.id).where(
        (User.role == 'supervisor') & (User.active == True))]  # noqa: E712
