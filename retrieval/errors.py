"""Lore's exception tree. Only app/ turns these into messages, HTTP codes and exit statuses.

Every message is one line that says what went wrong and how to fix it.
"""


class LoreError(Exception):
    """Base of every error a user can cause or fix."""

    exit_code = 1
    http_status = 500


class ConfigError(LoreError):
    """Settings are invalid or contradict each other."""

    exit_code = 2
    http_status = 500


class MissingDependencyError(ConfigError):
    """A backend was chosen whose optional package is not installed."""

    def __init__(self, what: str, package: str):
        super().__init__(f"{what} needs the package '{package}': run `pip install {package}` (or `make setup`)")


class ModelNotFoundError(LoreError):
    """A configured model file or directory is missing."""

    exit_code = 3
    http_status = 503


class ModelUnavailableError(LoreError):
    """A model backend could not be reached or failed to answer."""

    exit_code = 3
    http_status = 503


class StoreError(LoreError):
    """The vector store could not be opened or queried."""

    exit_code = 4
    http_status = 503


class IngestError(LoreError):
    """An ingest run could not work at all (per-file failures are reported, not raised)."""

    exit_code = 5


class LockedError(IngestError):
    """Another ingest run holds the lock."""

    exit_code = 6
    http_status = 409


class InputError(LoreError):
    """A request or file given by the user is invalid."""

    exit_code = 2
    http_status = 400


class AccessDenied(LoreError):
    """The caller may not do this."""

    exit_code = 7
    http_status = 403
