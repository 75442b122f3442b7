"""Connecting checks at once: the credentials (a harmless lookup) and the right to delete
(a deletion probe of a random identity that cannot exist). clevertap-api.md §2 has no scope
endpoint, so probing is the only way to learn the permissions."""

from __future__ import annotations

import uuid

from rightly.connectors.base import Check, Validation
from rightly.connectors.clevertap.api import delete_request, lookup_request
from rightly.connectors.clevertap.client import BudgetBusy, CleverTapClient
from rightly.connectors.clevertap.errors import Action
from rightly.connectors.clevertap.regions import region as region_named
from rightly.domain.enums import Priority


async def validate(client: CleverTapClient) -> Validation:
    account = client.account
    where = region_named(account.region)
    result = Validation()
    probe = f"rightly-connection-check-{uuid.uuid4().hex}"
    try:
        lookup = await client.send(lookup_request(account, "identity", probe), "lookup", Priority.INTERACTIVE)
    except BudgetBusy:
        result.checks.append(
            Check("credentials", False, "the call budget for this project is busy; try again")
        )
        return result
    action = lookup.verdict.action
    if action in (Action.OK, Action.NOT_FOUND):
        result.checks.append(
            Check("credentials", True, f"CleverTap accepted the credentials for {where.label}")
        )
    elif action is Action.REJECT_CREDENTIALS:
        result.checks.append(
            Check(
                "credentials",
                False,
                f"CleverTap rejected the Project ID or Passcode for region {where.label} (HTTP 401). "
                "Copy both again from Settings > Project in CleverTap; a project that lives in another "
                "region gets this same answer, so check the region too.",
            )
        )
        return result
    elif lookup.status_code is None:
        result.checks.append(
            Check(
                "network",
                False,
                f"could not reach {account.base_url}: {lookup.verdict.reason}. Check the network, any proxy "
                "(--api-base-url) and the region.",
            )
        )
        return result
    else:
        result.checks.append(
            Check("credentials", False, f"the credential check failed: {lookup.verdict.reason}")
        )
        return result
    try:
        delete = await client.send(
            delete_request(account, "identity", [probe]), "delete", Priority.INTERACTIVE
        )
    except BudgetBusy:
        result.checks.append(
            Check("delete permission", False, "the call budget for this project is busy; try again")
        )
        return result
    action = delete.verdict.action
    if action is Action.OK:
        result.checks.append(Check("delete permission", True, "the passcode may delete profiles"))
    elif action is Action.FORBIDDEN:
        result.checks.append(
            Check(
                "delete permission",
                False,
                "CleverTap refused a deletion probe (HTTP 403): this passcode lacks permission to delete "
                "profiles. CleverTap requires an Admin: use an account passcode, or the user passcode of an Admin.",
            )
        )
    elif action is Action.REJECT_CREDENTIALS:
        result.checks.append(
            Check(
                "delete permission",
                False,
                "CleverTap rejected the passcode for deletions (HTTP 401); it may have expired",
            )
        )
    else:
        result.checks.append(
            Check("delete permission", False, f"the deletion probe failed: {delete.verdict.reason}")
        )
    return result
