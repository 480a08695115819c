"""gunicorn entry point: `gunicorn -w 1 --threads 8 sandbox.wsgi:app`.

Exactly ONE worker: all sandbox state lives in this process's memory."""

from sandbox.app import create_sandbox_app
from sandbox.config import refuse_production

refuse_production()
app = create_sandbox_app()
