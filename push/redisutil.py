"""Small Redis helpers shared by the push modules."""
from __future__ import annotations

import secrets
from typing import Any


def scratch_name(prefix: str) -> str:
    """A unique suffix for a scratch key (``push.keys.scratch``)."""
    return f"{prefix}:{secrets.token_hex(6)}"


def shards_in_use(client: Any) -> range:
    """Shards of the citizen index holding at least one handed-out idx (``push.keys.shard_count``)."""
    from push import keys

    return range(keys.shard_count(int(client.get(keys.CITIZEN_SEQ) or 0)))


def is_cluster(client: Any) -> bool:
    """A Redis Cluster client (no single connection pool; commands are routed by slot)."""
    return not hasattr(client, "connection_pool")


def script_client(client: Any, pipe: Any) -> Any:
    """The ``client=`` for a registered script's call meant for ``pipe``: the pipeline itself, except
    on a cluster, whose pipeline refuses scripts; there it is None and each call runs at once (routed
    by its keys) and returns its answer."""
    return None if is_cluster(client) else pipe


def bitop(pipe: Any, operation: str, dest: str, *sources: str) -> Any:
    """Queue (or run) BITOP. redis-py's cluster pipeline refuses its ``bitop`` method for every
    pipeline, although a BITOP whose keys share a slot is fine on a cluster; the raw command is routed
    by those keys like any other."""
    return pipe.execute_command("BITOP", operation, dest, *sources)
