"""SendGrid v3 mail/send bodies checked against the vendor's OpenAPI schema.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connectors.sandbox.sendgrid.validation import mail_send_errors

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


SPEC_PATH = SHARED / "specs" / "sendgrid" / "openapi" / "tsg_mail_v3.json"


SPEC_URI = "urn:sendgrid-oai:tsg_mail_v3"


SPEC = json.loads(SPEC_PATH.read_text())


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _mail_send_validator() -> Draft202012Validator:
    """The schema the operation itself references: path → requestBody $ref → JSON schema."""
    spec = SPEC
    assert spec["openapi"].startswith("3.1")
    request_body = spec["paths"]["/v3/mail/send"]["post"]["requestBody"]
    ref = request_body["$ref"]
    assert ref == "#/components/requestBodies/PostMailSend"
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    target = ref + "/" + _pointer("content", "application/json", "schema")
    return Draft202012Validator(
        {"$ref": SPEC_URI + target},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


VALIDATOR = _mail_send_validator()


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def assert_valid(body: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    json.dumps(body)  # what the client will send
    assert mail_send_errors(body, now=NOW.timestamp()) == []
