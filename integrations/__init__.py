"""Clients of the outside systems: WeChat (login, phone number, access token, subscribe messages),
Alipay (open-platform gateway), the government identity platform, the SMS gateway and the APP push
gateway. Plain Python, no Flask; each client raises the errors of ``integrations.errors``.

Nothing in here imports a domain package (``auth``, ``push``, ...): the domains depend on the clients,
never the other way round. ``auth.ports`` names what identity needs of them; their stand-ins for tests
and development live in ``sandbox/``.

Entry point: ``integrations.gateways.build_gateways(settings, redis)``.
"""
