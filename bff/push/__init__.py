"""Push campaigns and recommendations over HTTP: thin views over ``push.service.PushService`` (``services().push``).

``blueprints()`` lists what the app factory registers: the citizen side (``/v1/recommendations``,
``/v1/events``, ``/v1/subscriptions``, ``/v1/devices``, ``/v1/messages``), WeChat's message-push URL
(``/v1/channels/wechat/events``) and the console (``/v1/admin/campaigns`` …).
"""


def blueprints():
    from bff.push.views_admin import blp as admin_blp
    from bff.push.views_channels import blp as channels_blp
    from bff.push.views_citizen import blp as citizen_blp

    return [citizen_blp, channels_blp, admin_blp]


__all__ = ["blueprints"]
