"""Moved to ``kernel.clock``; this alias goes once every import names the kernel."""
from kernel.clock import CHINA_STANDARD_TIME, Clock, FixedClock, SystemClock, china_today  # noqa: F401
