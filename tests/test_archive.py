"""Safe unpacking of uploaded dataset archives: traversal, links, bombs and junk are refused."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from speakerid import SpeakerIDError
from speakerid.app.unzip import extract_zip


def make_zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_dataset_archive_is_unpacked(tmp_path):
    data = make_zip({"Alice/1.wav": b"a", "Bob/1.wav": b"b", "speakers.csv": b"name,gender\n"})
    root = extract_zip(data, tmp_path / "out")
    assert root == tmp_path / "out"
    assert (root / "Alice" / "1.wav").read_bytes() == b"a"
    assert sorted(p.name for p in root.iterdir()) == ["Alice", "Bob", "speakers.csv"]


def test_one_wrapping_folder_is_the_dataset_root(tmp_path):
    data = make_zip({"dataset/Alice/1.wav": b"a", "dataset/Bob/1.wav": b"b", "__MACOSX/._x": b""})
    assert extract_zip(data, tmp_path / "out") == tmp_path / "out" / "dataset"
    # a single speaker folder is not unwrapped: it is the one speaker of the layout
    single = make_zip({"Alice.mp3": b"x"})
    assert extract_zip(single, tmp_path / "single") == tmp_path / "single"


def test_a_file_path_and_a_file_object_are_accepted(tmp_path):
    path = tmp_path / "data.zip"
    path.write_bytes(make_zip({"A/1.wav": b"1"}))
    assert (extract_zip(path, tmp_path / "a") / "A" / "1.wav").is_file()
    with path.open("rb") as handle:
        assert (extract_zip(handle, tmp_path / "b") / "A" / "1.wav").is_file()


@pytest.mark.parametrize("name", ["../evil.wav", "A/../../evil.wav", "/etc/evil.wav", "C:/evil.wav",
                                  "..\\evil.wav"])
def test_paths_that_leave_the_target_are_refused(tmp_path, name):
    data = make_zip({"A/1.wav": b"ok", name: b"evil"})
    with pytest.raises(SpeakerIDError, match="refused"):
        extract_zip(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.wav").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging folder left behind


def test_links_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("A/link.wav")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(SpeakerIDError, match="link"):
        extract_zip(buffer.getvalue(), tmp_path / "out")


def test_zip_bombs_are_refused(tmp_path):
    bomb = make_zip({"A/zeros.wav": bytes(20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(SpeakerIDError, match="zip bomb"):
        extract_zip(bomb, tmp_path / "ratio")
    with pytest.raises(SpeakerIDError, match="unpack to"):
        extract_zip(make_zip({"A/1.wav": bytes(5000)}), tmp_path / "size", max_total_bytes=4000)
    many = make_zip({f"A/{i}.wav": b"x" for i in range(30)})
    with pytest.raises(SpeakerIDError, match="entries"):
        extract_zip(many, tmp_path / "count", max_files=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sizes_that_lie_are_caught_while_inflating(tmp_path):
    data = bytearray(make_zip({"A/1.wav": bytes(3000)}, zipfile.ZIP_STORED))
    # shrink the declared size in the central directory: the real bytes then exceed what was checked
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(SpeakerIDError):
        extract_zip(bytes(data), tmp_path / "out", max_total_bytes=1000)
    assert not (tmp_path / "out").exists()


def test_junk_and_empty_archives_are_refused(tmp_path):
    with pytest.raises(SpeakerIDError, match="not a readable zip"):
        extract_zip(b"definitely not a zip", tmp_path / "junk")
    with pytest.raises(SpeakerIDError, match="empty"):
        extract_zip(make_zip({}), tmp_path / "empty")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "x").write_text("x")
    with pytest.raises(SpeakerIDError, match="not empty"):
        extract_zip(make_zip({"A/1.wav": b"1"}), target)
