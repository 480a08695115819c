"""Authentication and identity for the 蒙速办 BFF: plain Python, no Flask.

Entry point: ``auth.service.AuthService``. Design notes: ``auth/README.md``.
"""
