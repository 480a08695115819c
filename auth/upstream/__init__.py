"""Real HTTP clients of the outside systems (WeChat, Alipay, the government identity platform, the
SMS gateway), implementing the ports in ``auth.ports``. Plain Python: no Flask in here.

Entry point: ``auth.upstream.factory.build_gateways(settings, redis)``.
"""
