"""Streaming runtime: :class:`Stream` and its backends (never imports torch)."""

from edgernn.runtime.backends import Backend, available_backends, create_backend, register_backend
from edgernn.runtime.stream import InputAdapter, Stream, StreamState, predict

__all__ = [
    "Backend",
    "InputAdapter",
    "Stream",
    "StreamState",
    "available_backends",
    "create_backend",
    "predict",
    "register_backend",
]
