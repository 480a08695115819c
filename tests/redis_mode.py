"""Which Redis the tests run against: the single private redis-server (default) or, with
MSB_TEST_REDIS=cluster (`make test-cluster`), a private 3-master Redis Cluster (tests/conftest.py)."""
from __future__ import annotations

import os

import pytest

REDIS_CLUSTER_MODE = os.environ.get("MSB_TEST_REDIS", "") == "cluster"

# For tests that stop, pause or reconfigure the session Redis: the cluster fixture cannot be restarted.
single_redis_only = pytest.mark.skipif(
    REDIS_CLUSTER_MODE, reason="stops/pauses/reconfigures the single session redis-server; not done to the test cluster")
