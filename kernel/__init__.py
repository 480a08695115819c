"""The shared kernel: what every domain package needs and none of them owns.

Clock and China time, ids, personal-data crypto, the one ``DomainError``, JSON logging with redaction,
environment parsing and the Redis client factory. It imports no domain package (auth, catalog, push,
accessibility, ...) and no web framework, so every layer may import it.
"""
