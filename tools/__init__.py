"""Development tooling shared by the test harness and `make bench` (not imported by the service)."""
