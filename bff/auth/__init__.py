"""Unified identity over HTTP: thin views over ``auth.service.AuthService`` (``services().identity``).

``blueprints()`` lists what the app factory registers; ``bff.auth.security`` holds the bearer-token helpers
other blueprints use to require a signed-in citizen, a real-name level or an operator role.
"""


def blueprints():
    from bff.auth.views_admin import blp as admin_blp
    from bff.auth.views_auth import blp as auth_blp
    from bff.auth.views_me import blp as me_blp

    return [auth_blp, me_blp, admin_blp]


__all__ = ["blueprints"]
