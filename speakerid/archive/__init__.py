"""The archive: hours of recordings indexed once, then searched by name, their unnamed voices
linked across recordings, without running the model again.

``Archive(folder, gallery).add([...])`` indexes (the model's work: :mod:`.indexer`, run by an
engine, :mod:`.engines`, locally or on Ray); ``find``, ``voices``, ``who`` and ``summary`` answer
from stored turn embeddings against the gallery as it is at that moment (:mod:`.labels`), and
``name_voice`` enrols a voice from its best turns. :func:`open_for_search` opens an archive for
questions only, without TensorFlow. Importing this package loads no TensorFlow either.
"""

from .archive import (
    AddReport,
    Archive,
    ArchiveVoice,
    Hit,
    Summary,
    TimelineTurn,
    TurnRef,
    already_indexed,
    default_archive_dir,
    open_for_search,
    parse_voice,
    voice_label,
)

__all__ = ["AddReport", "Archive", "ArchiveVoice", "Hit", "Summary", "TimelineTurn", "TurnRef",
           "already_indexed", "default_archive_dir", "open_for_search", "parse_voice", "voice_label"]
