"""Logging and error reports: a bad Host header is one line; secrets stay off error pages."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class OneLineFormatter(logging.Formatter):
    """The message without its traceback: the reason is in the message, the stack is Django's."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return super().format(record)


class SecretSafeReporterFilter(SafeExceptionReporterFilter):
    """Hide sensitive variables and POST fields on error pages and mails even with DEBUG on.

    Django's filter steps aside when DEBUG is on; then an error while saving the connection
    would show the API key secret on the debug page.
    """

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
