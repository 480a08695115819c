"""Push campaigns and personalised recommendations (猜你想办). Plain Python, no Flask.

The HTTP layer calls ``push.service.PushService``; ``python -m push.worker`` plans and sends.
See ``push/README.md`` for the design, the Redis keys and the measured figures.
"""
