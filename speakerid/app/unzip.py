"""Unpacking uploaded zip archives of datasets safely.

An archive from the outside may try to write outside the target folder (``../`` or absolute
names, links), or be a zip bomb (a few kilobytes that inflate to terabytes, or millions of
entries). :func:`extract_zip` refuses all of these before or while writing, counts the bytes it
really inflates (the sizes in the archive's directory may lie), and leaves nothing behind when it
refuses.
"""

from __future__ import annotations

import io
import shutil
import stat
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import SpeakerIDError
from ..i18n import _

MAX_FILES = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3  # uncompressed
MAX_RATIO = 200  # uncompressed / compressed, per entry larger than RATIO_MIN_BYTES
RATIO_MIN_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
SKIPPED_PREFIXES = ("__MACOSX/",)


def extract_zip(source: str | Path | bytes | BinaryIO, target: str | Path,
                max_files: int = MAX_FILES, max_total_bytes: int = MAX_TOTAL_BYTES,
                max_ratio: float = MAX_RATIO) -> Path:
    """Extract ``source`` into the new folder ``target``; return the dataset root inside it.

    The root is ``target`` itself, or its only top-level folder when the archive wraps everything
    in one folder (``dataset.zip`` -> ``dataset/Alice/1.wav``) and that folder is not itself a
    speaker folder (it holds folders or a CSV rather than audio only).
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise SpeakerIDError(_("{target} already exists and is not empty").format(target=target))
    data = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        archive = zipfile.ZipFile(data)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpeakerIDError(_("not a readable zip archive: {exc}").format(exc=exc)) from None
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with archive:
            members = _checked_members(archive, max_files, max_total_bytes, max_ratio)
            staging.mkdir(parents=True)
            written = 0
            for info, parts in members:
                path = staging.joinpath(*parts)
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_member(archive, info, path, written, max_total_bytes)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataset_root(target)


def dataset_root(folder: Path) -> Path:
    """``folder``, or its single subfolder when everything was wrapped in one folder."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        children = [p for p in inner.iterdir() if not p.name.startswith(".")]
        if any(p.is_dir() or p.suffix.lower() == ".csv" for p in children):
            return inner
    return folder


def _checked_members(archive: zipfile.ZipFile, max_files: int, max_total_bytes: int,
                     max_ratio: float) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    infos = [i for i in archive.infolist() if not i.filename.startswith(SKIPPED_PREFIXES)]
    files = [i for i in infos if not i.is_dir()]
    if not files:
        raise SpeakerIDError(_("the zip archive is empty"))
    if len(infos) > max_files:
        raise SpeakerIDError(_("the zip archive has {count} entries; at most {max_files} are allowed").format(
            count=len(infos), max_files=max_files))
    declared = sum(i.file_size for i in files)
    if declared > max_total_bytes:
        raise SpeakerIDError(_("the zip archive would unpack to {declared_gb:.2f} GB; at most "
                               "{limit_gb:.2f} GB is allowed").format(
                                   declared_gb=declared / 1e9, limit_gb=max_total_bytes / 1e9))
    result = []
    seen: set[tuple[str, ...]] = set()
    for info in infos:
        parts = _safe_parts(info.filename)
        if info.flag_bits & 0x1:
            raise SpeakerIDError(_("{filename}: encrypted entries are not supported").format(
                filename=info.filename))
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise SpeakerIDError(_("{filename}: the archive contains a link; links are refused").format(
                filename=info.filename))
        if (not info.is_dir() and info.file_size > RATIO_MIN_BYTES
                and info.file_size > max_ratio * max(info.compress_size, 1)):
            ratio = info.file_size / max(info.compress_size, 1)
            raise SpeakerIDError(_("{filename}: compressed {ratio:.0f} times; this looks like a zip "
                                   "bomb").format(filename=info.filename, ratio=ratio))
        key = tuple(p.casefold() for p in parts)
        if key in seen and not info.is_dir():
            raise SpeakerIDError(_("{filename}: the archive holds this file twice").format(
                filename=info.filename))
        seen.add(key)
        result.append((info, parts))
    return result


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name; refuses anything that could leave the target."""
    if "\x00" in name:
        raise SpeakerIDError(_("{name!r}: invalid file name in the archive").format(name=name))
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise SpeakerIDError(_("{name}: absolute paths are refused in archives").format(name=name))
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise SpeakerIDError(_("{name}: '..' in an archive path is refused (path traversal)").format(
            name=name))
    if not parts:
        raise SpeakerIDError(_("{name!r}: empty file name in the archive").format(name=name))
    return parts


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, written: int,
                 max_total_bytes: int) -> int:
    """Inflate one entry, counting real bytes (declared sizes can lie)."""
    try:
        with archive.open(info) as source, path.open("xb") as sink:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > max_total_bytes:
                    raise SpeakerIDError(_("the zip archive unpacks to more than "
                                           "{limit_gb:.2f} GB; refused").format(
                                               limit_gb=max_total_bytes / 1e9))
                sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        if isinstance(exc, FileExistsError):
            raise SpeakerIDError(_("{filename}: the archive holds this file twice").format(
                filename=info.filename)) from None
        raise SpeakerIDError(_("{filename}: damaged zip entry ({exc})").format(
            filename=info.filename, exc=exc)) from None
    return written
