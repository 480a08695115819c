from marshmallow import Schema, fields


class LivenessSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class StoreStateSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    latency_ms = fields.Float(required=True, metadata={"description": "the readiness check's round trip"})
    breaker = fields.String(metadata={"description": "closed | open | half_open (this worker's circuit breaker)"})


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    stores = fields.Dict(keys=fields.String(), values=fields.Nested(StoreStateSchema), required=True,
                         metadata={"description": "each backing store's state, by store name"})
    catalogue_version = fields.String(allow_none=True)
