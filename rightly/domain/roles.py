"""Who may do what: the roles, the permissions, and the one matrix between them. Pure."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    CONNECTIONS_MANAGER = "connections_manager"
    REQUEST_MANAGER = "request_manager"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"  # requests and connections (never a secret)
    MANAGE_CONNECTIONS = "manage_connections"  # create, edit, test, remove
    MANAGE_REQUESTS = "manage_requests"  # submit, cancel, retry
    ADMIN = "admin"  # users, roles, tokens, the audit trail


EVERY_ROLE = frozenset(Role)

MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.READ: EVERY_ROLE,
    Permission.MANAGE_CONNECTIONS: frozenset({Role.SUPER_ADMIN, Role.CONNECTIONS_MANAGER}),
    Permission.MANAGE_REQUESTS: frozenset({Role.SUPER_ADMIN, Role.REQUEST_MANAGER}),
    Permission.ADMIN: frozenset({Role.SUPER_ADMIN}),
}


def allows(role: Role | str, permission: Permission) -> bool:
    """True when ``role`` holds ``permission``; an unknown role holds nothing."""
    try:
        return Role(role) in MATRIX[permission]
    except ValueError:
        return False


def roles_with(permission: Permission) -> list[str]:
    return sorted(r.value for r in MATRIX[permission])
