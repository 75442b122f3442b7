"""The API's side of "may they?": ``ROUTE_PERMISSIONS`` names the permission every API operation
needs (``PUBLIC`` for none); ``authorize`` is installed once on the API router and enforces it, and
a route missing from the table is refused (fail closed)."""

from __future__ import annotations

from typing import Final

from fastapi import HTTPException, Request

from rightly.domain.roles import Permission
from rightly.faces.auth import PUBLIC, Principal, require

API: Final = "/api/v1"

# Keyed by operation id (the endpoint function's name; OpenAPI's operationId).
ROUTE_PERMISSIONS: dict[str, Permission | str] = {
    "healthz": PUBLIC,  # GET /healthz
    "root_healthz": PUBLIC,  # GET /healthz at the root, outside /api/v1
    "readyz": PUBLIC,  # GET /readyz
    "login": PUBLIC,  # POST /session
    "logout": PUBLIC,  # DELETE /session
    "me": Permission.READ,  # GET /me
    "list_connections": Permission.READ,  # GET /connections
    "get_connection": Permission.READ,  # GET /connections/{id}
    "create_connection": Permission.MANAGE_CONNECTIONS,  # POST /connections
    "update_connection": Permission.MANAGE_CONNECTIONS,  # PATCH /connections/{id}
    "test_connection": Permission.MANAGE_CONNECTIONS,  # POST /connections/{id}/test
    "remove_connection": Permission.MANAGE_CONNECTIONS,  # DELETE /connections/{id}
    "list_requests": Permission.READ,  # GET /requests
    "get_request": Permission.READ,  # GET /requests/{id}
    "request_results": Permission.READ,  # GET /requests/{id}/results
    "submit_request": Permission.MANAGE_REQUESTS,  # POST /requests
    "cancel_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/cancel
    "retry_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/retry
    "extend_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/extend
    "approve_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/approve
    "deny_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/deny
    "submit_privacy_request": PUBLIC,  # POST /privacy/requests: a person's own request
    "list_audit": Permission.ADMIN,  # GET /audit
    "list_users": Permission.ADMIN,  # GET /users
    "add_user": Permission.ADMIN,  # POST /users
    "update_user": Permission.ADMIN,  # PATCH /users/{id}
    "list_tokens": Permission.ADMIN,  # GET /tokens
    "create_token": Permission.ADMIN,  # POST /tokens
    "revoke_token": Permission.ADMIN,  # DELETE /tokens/{id}
    "get_request_proof": Permission.READ,  # GET /requests/{id}/proof
    "get_proof_key": PUBLIC,  # GET /proof-key: public keys, for anyone checking a proof
    "verify_audit": Permission.ADMIN,  # GET /audit/verify
    "list_webhooks": Permission.ADMIN,  # GET /webhooks
    "get_webhook": Permission.ADMIN,  # GET /webhooks/{id}
    "create_webhook": Permission.ADMIN,  # POST /webhooks
    "delete_webhook": Permission.ADMIN,  # DELETE /webhooks/{id}
    "test_webhook": Permission.ADMIN,  # POST /webhooks/{id}/test
    "enable_webhook": Permission.ADMIN,  # POST /webhooks/{id}/enable
    "report_metrics": Permission.READ,  # GET /reports/metrics
}


def operation_id(request: Request) -> str:
    """The operation being called: its endpoint function's name (as in OpenAPI's operationId)."""
    endpoint = request.scope.get("endpoint")
    return str(getattr(endpoint, "__name__", ""))


async def authorize(request: Request) -> Principal | None:
    """Installed on the whole API router: look the route up in ROUTE_PERMISSIONS and enforce it."""
    needed = ROUTE_PERMISSIONS.get(operation_id(request))
    if needed is None:
        raise HTTPException(403, "this route has no permission entry, so nobody may call it")
    if needed == PUBLIC:
        return None
    return await require(Permission(needed))(request)
