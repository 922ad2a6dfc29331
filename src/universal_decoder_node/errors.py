"""The package's errors, named for what went wrong; none of them carries an HTTP status.

Every error the package raises on purpose is a ``UdnError``; its ``str()`` is a sentence a person
understands and may reach a client. ``protocol.errors`` holds the one table that maps these classes
to HTTP statuses. The engine's errors (``engine.base``, ``engine.registry``) and the model store's
(``models.errors``) join this hierarchy through ``engine.EngineError``. This module imports nothing
from the package, so any layer may raise these.
"""

from __future__ import annotations

import math


class UdnError(Exception):
    """Root of the package's errors.

    ``retry_after``: seconds after which the same request may succeed, when the error knows.
    """

    retry_after: int | None = None

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross from the inference workers to the API servers pickled: rebuild one
        # without calling its __init__, whose arguments differ between subclasses.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[UdnError], args: tuple[object, ...], state: dict[str, object]) -> UdnError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


# -- The request as sent ----------------------------------------------------------------------------


class InvalidRequest(UdnError):
    """The request cannot be served as sent; the message says what to change."""


class MalformedRequest(InvalidRequest):
    """The body (JSON, form data, LZ4 frame, MessagePack) or a header cannot be parsed."""


class MissingField(InvalidRequest):
    """A required field is absent."""


class InvalidField(InvalidRequest):
    """A field has the wrong type or a value that is not allowed."""


class EmptyText(InvalidRequest):
    """There is nothing to translate: an empty text, or an empty list of texts."""


class TooManyItems(InvalidRequest):
    """More texts in one request than ``serving.max_items``."""


class TextTooLong(InvalidRequest):
    """A text longer than ``serving.max_text_chars``."""


class TooManySegments(InvalidRequest):
    """More sentence segments than ``serving.max_segments_per_text`` or ``max_segments_per_request``."""


class TooManyAlternatives(InvalidRequest):
    """More alternative translations asked for than ``serving.alternatives_limit``."""


class BodyTooLarge(InvalidRequest):
    """The body, or what it decompresses to, is larger than allowed."""


class UnsupportedMediaType(InvalidRequest):
    """The Content-Type is not one the endpoint reads."""


class UnsupportedFormat(InvalidRequest):
    """A ``format`` that is not offered."""


class EmbeddingsNotSupported(InvalidRequest):
    """The edge payload carries encoder outputs; this node's engine decodes text."""


class UnsupportedPair(InvalidRequest):
    """A language pair that is not configured or served; the message lists those that are."""


class PairNotServed(UnsupportedPair):
    """No registered node serves the pair; the message lists the pairs that are served."""


class UnsupportedFileType(InvalidRequest):
    """A file to translate whose type (its extension) is not one ``documents`` reads."""


class CorruptDocument(InvalidRequest):
    """A file to translate that cannot be read as the type its extension names."""


class FileTooLarge(BodyTooLarge):
    """A file to translate larger than ``serving.file_max_bytes``."""


# -- Who is asking -----------------------------------------------------------------------------------


class AuthenticationRequired(UdnError):
    """The request carries no token, or a wrong one, where a bearer token is required."""


class AccessDenied(UdnError):
    """The request's credentials do not grant what it asks for."""


class EndpointDisabled(AccessDenied):
    """The endpoint is off because its token is not configured; the message says how to enable it."""


class KeyRejected(AccessDenied):
    """The presented API key is unknown or revoked."""


class ApiKeyRequired(AuthenticationRequired, KeyRejected):
    """An API key is required and none was presented."""


# -- What the request names ------------------------------------------------------------------------


class NotFound(UdnError):
    """The thing the request names does not exist."""


class Conflict(UdnError):
    """The request contradicts the current state; the message says what stands in the way."""


class PairPinned(Conflict):
    """The pair is pinned (``adapters.pinned``) and is never unloaded."""


class PairInUse(Conflict):
    """The pair is serving a request and cannot be unloaded now."""


class RegistryFull(Conflict):
    """``max_nodes`` nodes are registered already; the message says so."""


# -- Limits ----------------------------------------------------------------------------------------


class LimitReached(UdnError):
    """A per-key rate limit refused the request; ``retry_after`` says when it fits again."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestExceedsLimit(LimitReached):
    """The request alone is larger than a per-key limit per minute: it will never fit."""


# -- The service's own state -----------------------------------------------------------------------


class WorkerUnavailable(UdnError):
    """No inference worker can take the request now."""


class UnloadFailed(UdnError):
    """A worker could not unload a pair; the message gives each worker's reason."""


class NoNodeAvailable(UdnError):
    """No node can take the request now; ``retry_after`` says when one may (seconds, at least 1)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class StateWriteFailed(UdnError):
    """A change could not be made durable (Redis away and the state file not writable); it was not
    made. The message says why."""


class UpstreamFailed(UdnError):
    """No node gave an answer; the message says which node and why."""


class NodeUnreachable(UpstreamFailed):
    """The node could not be connected to, or dropped the connection."""


class UpstreamTimeout(UpstreamFailed):
    """The request's deadline passed before a node answered, or before one could take it."""


class ClientGone(UdnError):
    """The client closed the request before its answer; forwarding it was stopped."""
