"""gunicorn entry point: ``gunicorn wsgi:app``."""
from bff import create_app

app = create_app()
