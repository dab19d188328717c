"""The one exception tree of the assistant.

    QdbotError
    ├── ConfigError              a setting is missing, malformed or unsafe
    ├── StorageError             the database failed or is unreachable
    ├── KnowledgeError
    │   ├── DocumentError        one document cannot be loaded or parsed (the ingest goes on)
    │   ├── EmbeddingError       the embedder failed (local model or endpoint)
    │   ├── IndexMismatchError   the vector store holds vectors of another embedding model
    │   └── IndexUnavailableError the vector store (Chroma) cannot be reached
    ├── LLMError                 the chat model failed: timeout, rate limit, 5xx, garbage
    ├── ChannelError             a platform call failed
    │   ├── BadRequestError      malformed input from a platform or a client (-> HTTP 400)
    │   ├── SignatureError       a signature or secret token did not verify (-> HTTP 401/403)
    │   └── DeliveryError        a message could not be delivered
    └── HandoffError             a handoff operation is not allowed in the ticket's state
        └── NotPermittedError    ... nor for this manager: the ticket is someone else's (-> HTTP 403)

Third-party exceptions are translated at the boundary with ``raise ... from``.
"""


class QdbotError(Exception):
    """Base of every error the assistant raises on purpose."""


class ConfigError(QdbotError):
    pass


class StorageError(QdbotError):
    pass


class KnowledgeError(QdbotError):
    pass


class DocumentError(KnowledgeError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmbeddingError(KnowledgeError):
    pass


class IndexMismatchError(KnowledgeError):
    pass


class IndexUnavailableError(KnowledgeError):
    pass


class LLMError(QdbotError):
    pass


class ChannelError(QdbotError):
    pass


class BadRequestError(ChannelError):
    pass


class SignatureError(ChannelError):
    pass


class DeliveryError(ChannelError):
    pass


class HandoffError(QdbotError):
    pass


class NotPermittedError(HandoffError):
    pass
