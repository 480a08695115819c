"""Moved to ``kernel.clock``; this alias goes once every import names the kernel."""
from kernel.clock import (  # noqa: F401
    SHANGHAI, Clock, FixedClock, SystemClock, day_key, local, minute, parse_hhmm, quiet_until, shanghai_ts,
)
from kernel.clock import china_today as local_today  # noqa: F401
