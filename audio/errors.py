"""Errors raised by the audio parts.

Each message names the problem and the fix, because a user meets them at the
command line (``assistant transcribe``, ``assistant say``, voice mode). The tree::

    AudioError
    ├── AudioUnavailable   no PortAudio library or no usable device: voice is off, text still works
    ├── ModelNotFound      a speech model (bundled or configured) is missing or incomplete
    └── AudioFileError     an audio file cannot be read or written
"""

from __future__ import annotations


class AudioError(Exception):
    """Base class of every audio error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AudioUnavailable(AudioError):
    """Sound input or output cannot be used on this machine."""


class ModelNotFound(AudioError):
    """A speech model cannot be found or is incomplete."""


class AudioFileError(AudioError):
    """An audio file cannot be decoded or written."""
