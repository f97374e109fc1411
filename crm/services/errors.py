"""Errors the services raise. Each says, in plain English, what was wrong."""

from __future__ import annotations


class ServiceError(Exception):
    """Base for everything a service refuses to do."""


class InvalidInput(ServiceError):
    """Bad input: `errors` maps each field to a message a person can act on."""

    def __init__(self, errors: dict[str, str] | str, field: str = "__all__") -> None:
        self.errors = {field: errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(self.errors.values()))


class SlotTaken(InvalidInput):
    """Somebody else has the slot (perhaps a moment ago)."""

    def __init__(
        self, message: str = "That time has just been taken. Please choose another."
    ) -> None:
        super().__init__(message, field="starts_at")


class NotFound(ServiceError):
    pass


class NotAllowed(ServiceError):
    """The actor's role or areas do not allow this."""
