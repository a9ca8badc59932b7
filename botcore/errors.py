"""Exception kinds shared across botcore.

Expected business outcomes (an order rejected, a Kelly size of zero, a closed
gate) are status codes, never exceptions. Exceptions are for bad input and for
the two operational kinds the engine reacts to differently.
"""


class BotcoreError(Exception):
    """Base class of every botcore exception."""


class ConfigError(BotcoreError, ValueError):
    """Configuration is missing or invalid; the message names file, key and reason."""


class DataError(BotcoreError, ValueError):
    """Market data at a boundary is malformed; the message names the field."""


class TemporaryError(BotcoreError):
    """A transient failure (network, rate limit, 5xx): retry with backoff, then DATA_OUTAGE."""


class OperationalError(BotcoreError):
    """A failure retrying cannot fix (credentials, schema, broken invariant): stop trading, alert."""


class IllegalTransition(BotcoreError):
    """An order was asked to move between states the order state machine forbids."""


class DuplicateFill(BotcoreError):
    """A fill id was applied twice."""


class LedgerError(OperationalError):
    """The ledger is unusable or its schema does not match."""
