"""The flask-smorest ``Api`` with the one error envelope, and ``services()``: the composition root's result
for the current app (``create_app`` keeps it in ``app.extensions``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from flask_smorest import Api
from marshmallow import Schema, fields

if TYPE_CHECKING:
    from bootstrap import Services

SERVICES_KEY = "services"


class ErrorEnvelopeSchema(Schema):
    """The one error envelope, as published in the OpenAPI document."""

    code = fields.Integer(required=True, metadata={"example": 404})
    status = fields.String(required=True, metadata={"example": "Not Found"})
    message = fields.String(required=True)
    error = fields.String(required=True, metadata={"description": "stable snake_case machine code", "example": "item_not_found"})
    errors = fields.Dict(required=True, metadata={"description": "details per field or per check"})


_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
# Statuses any operation can answer, whatever its view does (bff.request_body, bff.client_context,
# the router, bff.caching.conditional, Redis), with the machine codes behind them.
COMMON_RESPONSES = {
    "400": "`invalid_json` (not JSON, or nested deeper than 32 levels), `malformed_body` (unreadable or "
           "badly framed body), `invalid_client_channel` / `invalid_client_mode` (X-Client-Channel / "
           "X-Client-Mode not one of the documented values; empty means absent)",
    "413": "`payload_too_large`: the body exceeds 64 KB (declared or chunked)",
    "503": "`store_unavailable` / `catalogue_unavailable`: a backing store is down, hung or loading, or its "
           "circuit breaker is open (answered at once; `Retry-After`: 1–2 s)",
}
PATH_PARAMETER_RESPONSE = ("404", "`not_found`: nothing at this path (or a path segment the route cannot take)")


class BffApi(Api):
    ERROR_SCHEMA = ErrorEnvelopeSchema
    # No catch-all `default` response: every status an operation can answer is listed, so a contract
    # test can tell an undeclared status from a declared one.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def declare_common_responses(self) -> None:
        """Add what every operation can answer to each one (call after registering the blueprints).

        Also marks optional query parameters ``allowEmptyValue``: ``?region=`` means no region
        (``bff.request_body`` drops empty query values before anything reads them).
        """
        for path, item in self.spec._paths.items():  # noqa: SLF001 - apispec keeps no public mutable view
            for method, operation in item.items():
                if method not in ("get", "put", "post", "patch", "delete"):
                    continue
                responses = operation.setdefault("responses", {})
                common = dict(COMMON_RESPONSES)
                if path == "/healthz":
                    common.pop("503")
                if "{" in path:
                    common[PATH_PARAMETER_RESPONSE[0]] = PATH_PARAMETER_RESPONSE[1]
                for status, description in common.items():
                    existing = responses.get(status)
                    if existing is None:
                        responses[status] = {"description": description,
                                             "content": {"application/json": {"schema": _ENVELOPE_REF}}}
                    elif isinstance(existing, dict) and "description" in existing and description not in existing["description"]:
                        existing["description"] = f"{existing['description']}; {description}"
                if method == "get":
                    responses.setdefault("304", {"description": "Not Modified: `If-None-Match` matched the ETag"})
                for parameter in operation.get("parameters", []):
                    if isinstance(parameter, dict) and parameter.get("in") == "query" and not parameter.get("required"):
                        parameter["allowEmptyValue"] = True


api = BffApi()


def services() -> "Services":
    """The app's services (built once by ``bootstrap.bootstrap`` in ``create_app``)."""
    return current_app.extensions[SERVICES_KEY]
