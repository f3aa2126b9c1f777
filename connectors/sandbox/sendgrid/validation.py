"""The checks the simulated SendGrid makes on a Mail Send body before it accepts the mail.

Layer: connectors/sandbox (pure). What real SendGrid refuses with a 400 and Kizuna could get
wrong; every error is `{"message", "field", "help"}`, modelled on SendGrid's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SCHEDULE_AHEAD_SECONDS = 72 * 3600
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)

Error = dict[str, Any]


def error(message: str, field: str | None, anchor: str | None = None) -> Error:
    return {"message": message, "field": field, "help": f"{HELP}#{anchor}" if anchor else None}


def is_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and "@" not in domain and value == value.strip())


def _email_object_errors(entry: Any, field: str, anchor: str) -> list[Error]:
    if not isinstance(entry, Mapping) or not is_address(entry.get("email")):
        return [error("Does not contain a valid address.", f"{field}.email", anchor)]
    if "name" in entry and not isinstance(entry["name"], str):
        return [error("The name must be a string.", f"{field}.name", anchor)]
    return []


def _personalization_errors(index: int, item: Any) -> tuple[list[Error], int]:
    field = f"personalizations.{index}"
    anchor = "message.personalizations"
    if not isinstance(item, Mapping):
        return [error("A personalization must be an object.", field, anchor)], 0
    errors: list[Error] = []
    to = item.get("to")
    if not isinstance(to, list) or not to:
        errors.append(
            error(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{field}.to",
                f"{anchor}.to",
            )
        )
        to = []
    seen: set[str] = set()
    recipients = 0
    for kind in ("to", "cc", "bcc"):
        entries = to if kind == "to" else item.get(kind) or []
        if not isinstance(entries, list):
            errors.append(error(f"The {kind} field must be an array.", f"{field}.{kind}", anchor))
            continue
        for position, entry in enumerate(entries):
            problems = _email_object_errors(entry, f"{field}.{kind}.{position}", f"{anchor}.{kind}")
            errors.extend(problems)
            if problems:
                continue
            recipients += 1
            address = entry["email"].lower()
            if address in seen:
                errors.append(
                    error(
                        "Each email address in the personalization block should be unique "
                        "between to, cc, and bcc.",
                        f"{field}.{kind}.{position}.email",
                        anchor,
                    )
                )
            seen.add(address)
    if "subject" in item and (not isinstance(item["subject"], str) or not item["subject"]):
        errors.append(error("The subject must be a non-empty string.", f"{field}.subject", anchor))
    errors.extend(_string_map_errors(item.get("substitutions"), f"{field}.substitutions"))
    errors.extend(_headers_errors(item.get("headers"), f"{field}.headers"))
    errors.extend(_custom_args_errors(item.get("custom_args"), f"{field}.custom_args"))
    return errors, recipients


def _string_map_errors(value: Any, field: str) -> list[Error]:
    if value is None:
        return []
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return [error(f"The {field} must be an object of strings.", field)]
    return []


def _headers_errors(value: Any, field: str) -> list[Error]:
    problems = _string_map_errors(value, field)
    if problems or not value:
        return problems
    reserved = sorted(name for name in value if name.lower() in RESERVED_HEADERS)
    if reserved:
        return [
            error(
                f"These headers are reserved and cannot be set: {', '.join(reserved)}.",
                field,
                "message.headers",
            )
        ]
    return []


def _custom_args_errors(value: Any, field: str) -> list[Error]:
    if value is None:
        return []
    if isinstance(value, str):  # the OpenAPI spec types message-level custom_args as a string
        try:
            value = json.loads(value)
        except ValueError:
            return [error("The custom_args must be an object.", field, "message.custom_args")]
    problems = _string_map_errors(value, field)
    if problems:
        return problems
    if len(json.dumps(value).encode()) >= MAX_CUSTOM_ARGS_BYTES:
        return [
            error(
                f"The custom_args must total less than {MAX_CUSTOM_ARGS_BYTES} bytes.",
                field,
                "message.custom_args",
            )
        ]
    return []


def _content_errors(body: Mapping[str, Any]) -> list[Error]:
    content = body.get("content")
    if not isinstance(content, list) or not content:
        if body.get("template_id"):
            return []
        return [
            error(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
                "message.content",
            )
        ]
    errors: list[Error] = []
    types: list[str] = []
    for index, item in enumerate(content):
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            errors.append(error("The content type is required.", f"content.{index}.type"))
            continue
        value = item.get("value")
        if not isinstance(value, str) or not value:
            errors.append(
                error(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                    "message.content.value",
                )
            )
        types.append(item["type"])
    if "text/plain" in types and types[0] != "text/plain":
        errors.append(
            error(
                "If present, text/plain must be first, followed by text/html, followed by any "
                "other content.",
                "content",
                "message.content",
            )
        )
    if types.count("text/plain") > 1 or types.count("text/html") > 1:
        errors.append(error("text/plain and text/html may only be provided once.", "content"))
    return errors


def _categories_errors(value: Any) -> list[Error]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        return [error("The categories must be an array of strings.", "categories")]
    errors = []
    if len(value) > MAX_CATEGORIES:
        errors.append(
            error(
                f"Too many categories. You may provide up to {MAX_CATEGORIES} categories.",
                "categories",
                "message.categories",
            )
        )
    for index, entry in enumerate(value):
        if len(entry) > MAX_CATEGORY_LENGTH:
            errors.append(
                error(
                    f"A category may not be longer than {MAX_CATEGORY_LENGTH} characters.",
                    f"categories.{index}",
                    "message.categories",
                )
            )
    if len(set(value)) != len(value):
        errors.append(error("The categories must be unique.", "categories", "message.categories"))
    return errors


def _send_at_errors(body: Mapping[str, Any], now: float) -> list[Error]:
    moments = [("send_at", body.get("send_at"))]
    for index, item in enumerate(body.get("personalizations") or []):
        if isinstance(item, Mapping):
            moments.append((f"personalizations.{index}.send_at", item.get("send_at")))
    errors = []
    for field, value in moments:
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(error("The send_at must be a unix timestamp.", field))
        elif value > now + MAX_SCHEDULE_AHEAD_SECONDS:
            errors.append(
                error(
                    "You cannot schedule a send more than 72 hours in advance.",
                    field,
                    "message.send_at",
                )
            )
    return errors


def mail_send_errors(body: Any, *, now: float) -> list[Error]:
    """Every reason SendGrid would answer 400 to this body, or [] if it would accept it."""
    if not isinstance(body, Mapping):
        return [error("Bad Request", None)]
    errors: list[Error] = []
    sender = body.get("from")
    if not isinstance(sender, Mapping) or not sender.get("email"):
        errors.append(
            error(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from.email",
                "message.from",
            )
        )
    elif not is_address(sender["email"]) or not sender["email"].isascii():
        errors.append(
            error("The from email does not contain a valid address.", "from.email", "message.from")
        )
    if "reply_to" in body:
        errors.extend(_email_object_errors(body["reply_to"], "reply_to", "message.reply_to"))
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            error(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(
            error(
                f"You may not have more than {MAX_PERSONALIZATIONS} personalizations per request.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
    recipients = 0
    for index, item in enumerate(personalizations[:MAX_PERSONALIZATIONS]):
        problems, count = _personalization_errors(index, item)
        errors.extend(problems)
        recipients += count
    if recipients > MAX_RECIPIENTS:
        errors.append(
            error(
                f"The total number of recipients must be no more than {MAX_RECIPIENTS}.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
    subject = body.get("subject")
    every_personalization_has_subject = bool(personalizations) and all(
        isinstance(item, Mapping) and item.get("subject") for item in personalizations
    )
    if not (isinstance(subject, str) and subject) and not (
        every_personalization_has_subject or body.get("template_id")
    ):
        errors.append(
            error(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                "message.subject",
            )
        )
    errors.extend(_content_errors(body))
    errors.extend(_categories_errors(body.get("categories")))
    errors.extend(_headers_errors(body.get("headers"), "headers"))
    errors.extend(_custom_args_errors(body.get("custom_args"), "custom_args"))
    errors.extend(_send_at_errors(body, now))
    return errors
