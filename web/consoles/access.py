"""Role checks for console views: anonymous users are sent to log in, other roles get 403.

Only the role is checked here; which objects a user may see is decided by the services the
views call.
"""
from flask import abort, redirect, request, url_for
from flask_login import current_user

from desk.parties.models import STAFF_ROLES


class RoleAccess:
    allowed_roles = STAFF_ROLES

    def is_accessible(self):
        return current_user.is_authenticated and current_user.role in self.allowed_roles

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for('auth.login', next=request.full_path.rstrip('?')))
        abort(403)


class AdminOnly(RoleAccess):
    allowed_roles = ('admin',)


class MerchantOnly(RoleAccess):
    allowed_roles = ('merchant_staff',)
