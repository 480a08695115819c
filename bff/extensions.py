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


class BffApi(Api):
    ERROR_SCHEMA = ErrorEnvelopeSchema


api = BffApi()


def services() -> "Services":
    """The app's services (built once by ``bootstrap.bootstrap`` in ``create_app``)."""
    return current_app.extensions[SERVICES_KEY]
