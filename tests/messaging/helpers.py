"""Helpers of the messaging tests: file contents, keys, starting conversations."""

import uuid

from django.core.files.uploadedfile import SimpleUploadedFile

from core.messaging import actions

IP = "203.0.113.7"  # RFC 5737 documentation address

# Smallest contents the type sniffer (filetype) recognises.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def key() -> str:
    """Return a fresh idempotency key, as a client generates one."""
    return uuid.uuid4().hex


def upload(name: str, data: bytes = PDF) -> SimpleUploadedFile:
    """Return an uploaded file named ``name`` holding ``data``."""
    return SimpleUploadedFile(name, data)


def start(school, sender, recipients, body="Bonjour", **options):
    """Start a conversation in ``school.org``; return it."""
    options.setdefault("subject", "Sortie au musée")
    options.setdefault("idempotency_key", key())
    return actions.start_conversation(
        sender=sender, org=school.org, recipients=recipients, body=body, **options
    )


def send(conversation, sender, body="Merci", **options):
    """Send ``body`` to ``conversation`` with a fresh key; return the message."""
    options.setdefault("idempotency_key", key())
    return actions.send_message(
        conversation=conversation, sender=sender, body=body, **options
    )
