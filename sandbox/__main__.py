"""`python -m sandbox --port 8701`: dev server (werkzeug, threaded)."""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import WSGIRequestHandler, run_simple

from sandbox.app import create_sandbox_app
from sandbox.config import refuse_production


class QuietPathRequestHandler(WSGIRequestHandler):
    """Access log without query strings: WeChat URLs carry the appsecret and
    access_token there, and drive URLs may carry phone numbers."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', getattr(self, "command", "-"), path, code, size)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MSB_SANDBOX_PORT", "8701")))
    args = parser.parse_args()
    refuse_production()
    app = create_sandbox_app()
    run_simple(args.host, args.port, app, threaded=True, request_handler=QuietPathRequestHandler)


if __name__ == "__main__":
    main()
