"""Errors of the crypto service: each carries an HTTP status and a stable error code."""

from __future__ import annotations


class ServiceError(Exception):
    """An error answered to the caller as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(code: str, message: str) -> ServiceError:
    return ServiceError(400, code, message)


def not_found(code: str, message: str) -> ServiceError:
    return ServiceError(404, code, message)


def conflict(code: str, message: str) -> ServiceError:
    return ServiceError(409, code, message)


class ConfigError(Exception):
    """The service cannot start: a missing, malformed or exposed configuration or secret file."""
