"""Recommendations and push campaigns (issue: push campaigns); not built yet."""
