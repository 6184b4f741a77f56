"""schemathesis against the OpenAPI schema: generated requests, as a brand user and as an
operator, never get a server error (bounded examples per operation to keep the suite fast)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.web.conftest import World, bearer

from redcat.web.app import create_app


def test_no_server_error(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(world.config))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            for user in (f"user_{world.brands[0]}", "op"):
                if case.method.upper() != "GET" and user == "op":
                    continue  # an operator's writes (refresh, revoking tokens): tested elsewhere
                response = case.call(headers=bearer(world, user))
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    response.text[:300],
                )

        check()
