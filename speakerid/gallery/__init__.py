"""The enrolled-speaker store: one SQLite file with every speaker's clips, audio and embeddings.

:class:`Gallery` (:mod:`.facade`) is the one object callers use; each job behind it has its module:

- :mod:`.store`: the connection, single-transaction writes; :mod:`.schema`: tables, format checks
  and migrations; :mod:`.locking`: waiting for another writer.
- :mod:`.rows`: speakers and clips as rows, written and read back; :mod:`.names`: names and
  details as stored, and the key names are matched by; :mod:`.aliases`: a speaker's other names,
  and finding a speaker by any; :mod:`.editing`: enrolment's write, rename, details, aliases,
  removal and the threshold, as changes.
- :mod:`.history`: every change recorded with who, when and what; :mod:`.undo`: one undone by a
  new change.
- :mod:`.clip_storage`: a clip's audio (mono FLAC) and vector as stored; :mod:`.embedding`: clips
  given by a caller decoded, checked and embedded before a write.
- :mod:`.ranking`: centroids (cached while the file is unchanged), top-k search, one speaker
  verified, AS-norm scores, the calibration in use.
- :mod:`.staging`: re-enrolment with another model, switched in one transaction.
- :mod:`.validation`: trusting a gallery file from elsewhere; :mod:`.transfer`: export and import.
- :mod:`.folder_import`: a dataset folder, a speaker at a time.
- :mod:`.calibration`: the threshold refitted on the gallery's own voices.
"""

from ..results import Identification, Match, SpeakerInfo
from .clip_storage import ClipInput
from .facade import Gallery
from .history import Change
from .names import clean_name, clean_text, name_key
from .ranking import EnrolledCentroids, centroids
from .rows import ClipSource
from .schema import SCHEMA

__all__ = ["SCHEMA", "Change", "ClipInput", "ClipSource", "EnrolledCentroids", "Gallery", "Identification",
           "Match", "SpeakerInfo", "centroids", "clean_name", "clean_text", "name_key"]
