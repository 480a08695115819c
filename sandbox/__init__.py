"""Local stand-ins of the outside systems 蒙速办 talks to (WeChat, Alipay,
the government identity platform, the SMS gateway).

A separate Flask app run as its own server; never part of the BFF process and
never enabled in production. See sandbox/README.md.
"""

from sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]
