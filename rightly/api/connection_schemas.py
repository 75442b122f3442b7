"""The bodies of /connections, made from the connectors' own settings models, so the API (and its
OpenAPI document) names exactly the fields each vendor takes, and a second vendor needs no change
here. With one vendor the body is flat; with several, ``vendor`` tells them apart."""

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model

from rightly.connectors.base import Connector, Registry
from rightly.services.connections import MAX_IN_FLIGHT, NAME, NAME_PATTERN, RATE


class Check(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    ok: bool
    detail: str


class Fact(BaseModel):
    label: str
    value: str


def _settings_fields(connector: Connector, optional: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in connector.settings_model.model_fields.items():
        copy = info._copy()  # the same type, bounds and description, apart from the model's validators
        annotation: Any = info.annotation
        if optional:
            copy.default = None
            annotation = annotation | None
        fields[name] = (annotation, copy)
    return fields


def _create_model(connector: Connector, only: bool) -> type[BaseModel]:
    vendor_type: Any = Literal[connector.vendor]
    fields: dict[str, Any] = {
        "name": (str, NAME),
        "vendor": (vendor_type, Field(default=connector.vendor) if only else Field()),
        "max_in_flight": (int | None, MAX_IN_FLIGHT),
        "rate": (float | None, RATE),
        connector.secret_field: (SecretStr, Field(min_length=1, max_length=1000)),
        **_settings_fields(connector, optional=False),
    }
    return create_model(
        f"{connector.label.replace(' ', '')}ConnectionCreate",
        __config__=ConfigDict(
            extra="forbid",
            str_strip_whitespace=True,
            json_schema_extra={"examples": [connector.example]} if connector.example else None,
        ),
        __doc__=f"A {connector.label} connection to make; Rightly checks it with {connector.label} before saving.",
        **fields,
    )


def create_body(registry: Registry) -> Any:
    connectors = list(registry)
    models = [_create_model(c, len(connectors) == 1) for c in connectors]
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="vendor")]  # noqa: UP007


def update_body(registry: Registry) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for connector in registry:
        fields |= _settings_fields(connector, optional=True)
        secrets[connector.secret_field] = (
            SecretStr | None,
            Field(default=None, min_length=1, max_length=1000),
        )
    return create_model(
        "ConnectionUpdate",
        __config__=ConfigDict(extra="forbid", str_strip_whitespace=True),
        __doc__="Fields to change; the secret is write-only, and needed again to change where calls go.",
        name=(str | None, Field(default=None, min_length=1, max_length=100, pattern=NAME_PATTERN)),
        max_in_flight=(int | None, MAX_IN_FLIGHT),
        rate=(float | None, RATE),
        **secrets,
        **fields,
    )


def out_model(registry: Registry) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for connector in registry:
        for name, info in connector.settings_model.model_fields.items():
            fields[name] = (Any, Field(default=None, description=info.description))
    return create_model(
        "ConnectionOut",
        __doc__="A connection as the API shows it: never its secret.",
        id=(str, ...),
        name=(str, ...),
        vendor=(str, ...),
        vendor_label=(str, ...),
        max_in_flight=(int, ...),
        rate=(float, ...),
        target=(str, Field(description="Which vendor account the connection reaches")),
        facts=(list[Fact], Field(description="The settings as a person reads them")),
        health=(str, ...),
        health_detail=(str | None, ...),
        last_tested_at=(str | None, ...),
        created_at=(str | None, ...),
        **fields,
    )


def tested_model(out: type[BaseModel]) -> type[BaseModel]:
    return create_model("ConnectionTested", connection=(out, ...), ok=(bool, ...), checks=(list[Check], ...))


def removed_model(out: type[BaseModel]) -> type[BaseModel]:
    return create_model("ConnectionRemoved", connection=(out, ...), canceled_tasks=(int, ...))
