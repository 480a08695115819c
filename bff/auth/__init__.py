"""Unified identity over HTTP: thin views over ``auth.service.AuthService``.

``blueprints()`` lists what the app factory registers; ``auth_service`` is the extension holder and
``bff.auth.security`` the bearer-token helpers other blueprints use to require a signed-in citizen,
a real-name level or an operator role.
"""
from bff.auth.extension import auth_service


def blueprints():
    from bff.auth.views_admin import blp as admin_blp
    from bff.auth.views_auth import blp as auth_blp
    from bff.auth.views_me import blp as me_blp

    return [auth_blp, me_blp, admin_blp]


__all__ = ["auth_service", "blueprints"]
