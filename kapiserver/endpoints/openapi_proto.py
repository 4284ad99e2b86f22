"""
``GET /openapi/v2`` as protobuf (``application/com.github.proto-openapi.spec.v2.v1.0+protobuf``): the
Swagger 2.0 document encoded as gnostic's ``openapi.v2.Document`` message, which kubectl's
client-side validation and field-validation probing read.

The document is walked once from its JSON form.  Each message is a table of its fields: the JSON key,
the protobuf field number and how the value is written.  Objects whose keys are free (definitions,
properties, paths, responses) become repeated ``Named*`` pairs in document order, values without a
fixed type (defaults, examples, enums, ``x-`` vendor extensions) an ``Any`` holding the value as YAML,
as gnostic's compiler writes them.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

import yaml

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# What clients may ask for: the older spelling too (kubectl's), answered with the one above, as upstream does
# (Go's media type parser refuses the '@').
MEDIA_TYPES = (MEDIA_TYPE, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")


# -- the wire ---------------------------------------------------------------------------------------
def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


# -- values -----------------------------------------------------------------------------------------
Writer = Callable[[int, Any], bytes]


def _string(number: int, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    return _length_delimited(number, value.encode())


def _strings(number: int, value: Any) -> bytes:
    if isinstance(value, str):
        value = [value]
    return b"".join(_length_delimited(number, str(v).encode()) for v in value or ())


def _bool(number: int, value: Any) -> bytes:
    return _key(number, 0) + b"\x01" if value is True else b""


def _int64(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value:
        return b""
    return _key(number, 0) + _varint(int(value))


def _double(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value:
        return b""
    return _key(number, 1) + struct.pack("<d", float(value))


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)


def _any(number: int, value: Any) -> bytes:
    """An ``Any``: the value as YAML (field 2)."""
    return _length_delimited(number, _string(2, _yaml(value)))


def _anys(number: int, value: Any) -> bytes:
    return b"".join(_any(number, v) for v in value) if isinstance(value, list) else b""


def _message(name: str) -> Writer:
    def write(number: int, value: Any) -> bytes:
        if not isinstance(value, dict):
            return b""
        return _length_delimited(number, encode(name, value))
    return write


def _messages(name: str) -> Writer:
    def write(number: int, value: Any) -> bytes:
        return b"".join(_length_delimited(number, encode(name, v)) for v in value or () if isinstance(v, dict))
    return write


def _named(value_writer: Writer) -> Writer:
    """A JSON object as repeated ``Named*`` pairs: name (1), value (2), in document order."""
    def write(number: int, value: Any) -> bytes:
        if not isinstance(value, dict):
            return b""
        return b"".join(_length_delimited(number, _string(1, name) + value_writer(2, item))
                        for name, item in value.items())
    return write


def _wrapped(inner: Writer, inner_number: int = 1) -> Writer:
    """A message holding ``value`` in its one field (Definitions, Properties, TypeItem...)."""
    def write(number: int, value: Any) -> bytes:
        if value is None:
            return b""
        return _length_delimited(number, inner(inner_number, value))
    return write


def _vendor_extensions(number: int, obj: dict) -> bytes:
    return b"".join(_length_delimited(number, _string(1, key) + _any(2, value))
                    for key, value in obj.items() if key.startswith("x-"))


# -- the oneofs ---------------------------------------------------------------------------------------
def _additional_properties(number: int, value: Any) -> bytes:
    if isinstance(value, bool):
        return _length_delimited(number, _key(2, 0) + (b"\x01" if value else b"\x00"))
    if isinstance(value, dict):
        return _length_delimited(number, _length_delimited(1, encode("Schema", value)))
    return b""


def _items(number: int, value: Any) -> bytes:
    schemas = value if isinstance(value, list) else [value]
    return _length_delimited(number, _messages("Schema")(1, schemas))


def _json_reference(value: dict) -> bytes:
    return _string(1, value.get("$ref")) + _string(2, value.get("description"))


_NON_BODY = {"header": (1, "HeaderParameterSubSchema"), "formData": (2, "FormDataParameterSubSchema"),
             "query": (3, "QueryParameterSubSchema"), "path": (4, "PathParameterSubSchema")}


def _parameter(value: dict) -> bytes:
    """A ``Parameter``: body (1) or, by ``in``, one of the non-body kinds (2)."""
    if value.get("in") == "body":
        return _length_delimited(1, encode("BodyParameter", value))
    number, name = _NON_BODY.get(value.get("in"), (3, "QueryParameterSubSchema"))
    return _length_delimited(2, _length_delimited(number, encode(name, value)))


def _parameters_items(number: int, value: Any) -> bytes:
    out = []
    for item in value or ():
        if not isinstance(item, dict):
            continue
        inner = _length_delimited(2, _json_reference(item)) if "$ref" in item else \
            _length_delimited(1, _parameter(item))
        out.append(_length_delimited(number, inner))
    return b"".join(out)


def _parameter_value(number: int, value: Any) -> bytes:
    return _length_delimited(number, _parameter(value)) if isinstance(value, dict) else b""


def _response_value(number: int, value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    inner = _length_delimited(2, _json_reference(value)) if "$ref" in value else \
        _length_delimited(1, encode("Response", value))
    return _length_delimited(number, inner)


def _responses(number: int, value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    codes = {k: v for k, v in value.items() if not k.startswith("x-")}
    return _length_delimited(number, _named(_response_value)(1, codes) + _vendor_extensions(2, value))


def _schema_item(number: int, value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    if value.get("type") == "file":
        return _length_delimited(number, _length_delimited(2, encode("FileSchema", value)))
    return _length_delimited(number, _length_delimited(1, encode("Schema", value)))


def _paths(number: int, value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    paths = {k: v for k, v in value.items() if not k.startswith("x-")}
    return _length_delimited(number, _vendor_extensions(1, value) + _named(_message("PathItem"))(2, paths))


_SECURITY_KINDS = {"basic": (1, "BasicAuthenticationSecurity"), "apiKey": (2, "ApiKeySecurity")}
_OAUTH2_FLOWS = {"implicit": (3, "Oauth2ImplicitSecurity"), "password": (4, "Oauth2PasswordSecurity"),
                 "application": (5, "Oauth2ApplicationSecurity"), "accessCode": (6, "Oauth2AccessCodeSecurity")}


def _security_definition(number: int, value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    kind = _SECURITY_KINDS.get(value.get("type")) or _OAUTH2_FLOWS.get(value.get("flow"))
    if kind is None:
        return b""
    inner_number, name = kind
    return _length_delimited(number, _length_delimited(inner_number, encode(name, value)))


def _security(number: int, value: Any) -> bytes:
    """Repeated ``SecurityRequirement``: each a map of scheme name to a StringArray of scopes."""
    return b"".join(_length_delimited(number, _named(_wrapped(_strings))(1, requirement))
                    for requirement in value or () if isinstance(requirement, dict))


# -- the messages -------------------------------------------------------------------------------------
_S, _B, _I, _D = _string, _bool, _int64, _double
_PRIMITIVE_VALIDATIONS = [  # the fields every primitive parameter, header and items share, in order
    ("default", _any), ("maximum", _D), ("exclusiveMaximum", _B), ("minimum", _D), ("exclusiveMinimum", _B),
    ("maxLength", _I), ("minLength", _I), ("pattern", _S), ("maxItems", _I), ("minItems", _I),
    ("uniqueItems", _B), ("enum", _anys), ("multipleOf", _D)]


def _numbered(first: int, fields: list) -> list:
    return [(key, number, writer) for number, (key, writer) in enumerate(fields, first)]


def _non_body(with_empty_value: bool) -> list:
    head = [("required", _B), ("in", _S), ("description", _S), ("name", _S)]
    if with_empty_value:
        head.append(("allowEmptyValue", _B))
    head += [("type", _S), ("format", _S), ("items", _message("PrimitivesItems")), ("collectionFormat", _S)]
    return _numbered(1, head + _PRIMITIVE_VALIDATIONS)


MESSAGES: dict[str, list] = {
    "Document": [("swagger", 1, _S), ("info", 2, _message("Info")), ("host", 3, _S), ("basePath", 4, _S),
                 ("schemes", 5, _strings), ("consumes", 6, _strings), ("produces", 7, _strings),
                 ("paths", 8, _paths), ("definitions", 9, _wrapped(_named(_message("Schema")))),
                 ("parameters", 10, _wrapped(_named(_parameter_value))),
                 ("responses", 11, _wrapped(_named(_message("Response")))), ("security", 12, _security),
                 ("securityDefinitions", 13, _wrapped(_named(_security_definition))),
                 ("tags", 14, _messages("Tag")), ("externalDocs", 15, _message("ExternalDocs"))],
    "Info": [("title", 1, _S), ("version", 2, _S), ("description", 3, _S), ("termsOfService", 4, _S),
             ("contact", 5, _message("Contact")), ("license", 6, _message("License"))],
    "Contact": [("name", 1, _S), ("url", 2, _S), ("email", 3, _S)],
    "License": [("name", 1, _S), ("url", 2, _S)],
    "ExternalDocs": [("description", 1, _S), ("url", 2, _S)],
    "Tag": [("name", 1, _S), ("description", 2, _S), ("externalDocs", 3, _message("ExternalDocs"))],
    "PathItem": [("$ref", 1, _S), ("get", 2, _message("Operation")), ("put", 3, _message("Operation")),
                 ("post", 4, _message("Operation")), ("delete", 5, _message("Operation")),
                 ("options", 6, _message("Operation")), ("head", 7, _message("Operation")),
                 ("patch", 8, _message("Operation")), ("parameters", 9, _parameters_items)],
    "Operation": [("tags", 1, _strings), ("summary", 2, _S), ("description", 3, _S),
                  ("externalDocs", 4, _message("ExternalDocs")), ("operationId", 5, _S), ("produces", 6, _strings),
                  ("consumes", 7, _strings), ("parameters", 8, _parameters_items), ("responses", 9, _responses),
                  ("schemes", 10, _strings), ("deprecated", 11, _B), ("security", 12, _security)],
    "BodyParameter": [("description", 1, _S), ("name", 2, _S), ("in", 3, _S), ("required", 4, _B),
                      ("schema", 5, _message("Schema"))],
    "HeaderParameterSubSchema": _non_body(False),
    "PathParameterSubSchema": _non_body(False),
    "QueryParameterSubSchema": _non_body(True),
    "FormDataParameterSubSchema": _non_body(True),
    "PrimitivesItems": _numbered(1, [("type", _S), ("format", _S), ("items", _message("PrimitivesItems")),
                                     ("collectionFormat", _S)] + _PRIMITIVE_VALIDATIONS),
    "Header": _numbered(1, [("type", _S), ("format", _S), ("items", _message("PrimitivesItems")),
                            ("collectionFormat", _S)] + _PRIMITIVE_VALIDATIONS + [("description", _S)]),
    "Response": [("description", 1, _S), ("schema", 2, _schema_item),
                 ("headers", 3, _wrapped(_named(_message("Header")))), ("examples", 4, _wrapped(_named(_any)))],
    "Schema": [("$ref", 1, _S), ("format", 2, _S), ("title", 3, _S), ("description", 4, _S), ("default", 5, _any),
               ("multipleOf", 6, _D), ("maximum", 7, _D), ("exclusiveMaximum", 8, _B), ("minimum", 9, _D),
               ("exclusiveMinimum", 10, _B), ("maxLength", 11, _I), ("minLength", 12, _I), ("pattern", 13, _S),
               ("maxItems", 14, _I), ("minItems", 15, _I), ("uniqueItems", 16, _B), ("maxProperties", 17, _I),
               ("minProperties", 18, _I), ("required", 19, _strings), ("enum", 20, _anys),
               ("additionalProperties", 21, _additional_properties), ("type", 22, _wrapped(_strings)),
               ("items", 23, _items), ("allOf", 24, _messages("Schema")),
               ("properties", 25, _wrapped(_named(_message("Schema")))), ("discriminator", 26, _S),
               ("readOnly", 27, _B), ("xml", 28, _message("Xml")), ("externalDocs", 29, _message("ExternalDocs")),
               ("example", 30, _any)],
    "FileSchema": [("format", 1, _S), ("title", 2, _S), ("description", 3, _S), ("default", 4, _any),
                   ("required", 5, _strings), ("type", 6, _S), ("readOnly", 7, _B),
                   ("externalDocs", 8, _message("ExternalDocs")), ("example", 9, _any)],
    "Xml": [("name", 1, _S), ("namespace", 2, _S), ("prefix", 3, _S), ("attribute", 4, _B), ("wrapped", 5, _B)],
    "BasicAuthenticationSecurity": [("type", 1, _S), ("description", 2, _S)],
    "ApiKeySecurity": [("type", 1, _S), ("name", 2, _S), ("in", 3, _S), ("description", 4, _S)],
    "Oauth2ImplicitSecurity": [("type", 1, _S), ("flow", 2, _S), ("scopes", 3, _wrapped(_named(_string))),
                               ("authorizationUrl", 4, _S), ("description", 5, _S)],
    "Oauth2PasswordSecurity": [("type", 1, _S), ("flow", 2, _S), ("scopes", 3, _wrapped(_named(_string))),
                               ("tokenUrl", 4, _S), ("description", 5, _S)],
    "Oauth2ApplicationSecurity": [("type", 1, _S), ("flow", 2, _S), ("scopes", 3, _wrapped(_named(_string))),
                                  ("tokenUrl", 4, _S), ("description", 5, _S)],
    "Oauth2AccessCodeSecurity": [("type", 1, _S), ("flow", 2, _S), ("scopes", 3, _wrapped(_named(_string))),
                                 ("authorizationUrl", 4, _S), ("tokenUrl", 5, _S), ("description", 6, _S)],
}
# Where each message keeps its vendor extensions (x-...); the messages without one have none.
_EXTENSIONS = {"Document": 16, "Info": 7, "Contact": 4, "License": 3, "ExternalDocs": 3, "Tag": 4, "PathItem": 10,
               "Operation": 13, "BodyParameter": 6, "HeaderParameterSubSchema": 22, "PathParameterSubSchema": 22,
               "QueryParameterSubSchema": 23, "FormDataParameterSubSchema": 23, "PrimitivesItems": 18,
               "Header": 19, "Response": 5, "Schema": 31, "FileSchema": 10, "Xml": 6,
               "BasicAuthenticationSecurity": 3, "ApiKeySecurity": 5, "Oauth2ImplicitSecurity": 6,
               "Oauth2PasswordSecurity": 6, "Oauth2ApplicationSecurity": 6, "Oauth2AccessCodeSecurity": 7}


def encode(message: str, obj: dict) -> bytes:
    """``obj`` (a JSON object of the OpenAPI v2 document) as the gnostic message ``message``."""
    out = [writer(number, obj[key]) for key, number, writer in MESSAGES[message] if key in obj]
    extensions = _EXTENSIONS.get(message)
    if extensions is not None:
        out.append(_vendor_extensions(extensions, obj))
    return b"".join(out)


def encode_document(document: dict) -> bytes:
    return encode("Document", document)
