"""Links: audio fetched with yt-dlp from a local web server (the generic extractor), no internet."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from media_server import serve

from speakerid.errors import SpeakerIDError
from speakerid.fetch import FetchLimits, LinkError, fetch_audio, is_link, parse_time

RATE = 16000


@pytest.fixture
def server(tmp_path, voice):
    folder = tmp_path / "site"
    folder.mkdir()
    ramp = np.linspace(-0.5, 0.5, RATE * 6, dtype=np.float32)  # sample values tell the time
    sf.write(folder / "ramp.wav", ramp, RATE)
    sf.write(folder / "speech.ogg", voice(1, 4.0), RATE)
    sf.write(folder / "speech.mp3", voice(2, 4.0), RATE)
    (folder / "article.html").write_text("<html><head><title>News</title></head><body>No media "
                                         "here.</body></html>")
    with serve(folder) as running:
        (folder / "long.html").write_text(
            '<html><head><title>Debate</title><script type="application/ld+json">{"@context": '
            '"https://schema.org", "@type": "VideoObject", "name": "Parliament debate", "duration": '
            f'"PT3H", "contentUrl": "{running.url("ramp.wav")}", "uploadDate": "2026-11-30"}}'
            '</script></head><body></body></html>')
        yield running


@pytest.mark.parametrize("name", ["ramp.wav", "speech.ogg", "speech.mp3"])
def test_a_media_link_is_fetched_and_decoded(server, name):
    seen = []
    fetched = fetch_audio(server.url(name), progress=lambda done, total: seen.append((done, total)))
    assert fetched.url == server.url(name)
    assert fetched.title == name.split(".")[0]
    assert fetched.clip.sample_rate == RATE
    assert fetched.clip.duration_s == pytest.approx(6.0 if name == "ramp.wav" else 4.0, abs=0.1)
    assert np.abs(fetched.clip.samples).max() > 0.05
    assert seen and seen[-1][0] == (server.folder / name).stat().st_size


def test_start_and_end_cut_the_clip(server):
    fetched = fetch_audio(server.url("ramp.wav"), start_s=parse_time("0:01.5"), end_s=parse_time("4"))
    samples = fetched.clip.samples[:, 0]
    assert fetched.clip.duration_s == pytest.approx(2.5, abs=1e-3)
    whole = np.linspace(-0.5, 0.5, RATE * 6)
    assert samples[0] == pytest.approx(whole[int(1.5 * RATE)], abs=1e-3)
    assert samples[-1] == pytest.approx(whole[4 * RATE - 1], abs=1e-3)


def test_a_start_past_the_end_is_refused(server):
    with pytest.raises(SpeakerIDError, match="past the end"):
        fetch_audio(server.url("ramp.wav"), start_s=10.0)


def test_a_missing_page_says_it_could_not_be_fetched(server):
    with pytest.raises(LinkError, match=r"could not be fetched \(.*404") as raised:
        fetch_audio(server.url("gone.wav"))
    assert "\n" not in str(raised.value)


def test_a_page_without_media_says_so(server):
    with pytest.raises(LinkError, match="no audio or video was found at this link"):
        fetch_audio(server.url("article.html"))


def test_a_declared_duration_over_the_limit_is_refused_before_downloading(server):
    with pytest.raises(LinkError, match=r"3 h of media is over the 2 h limit"):
        fetch_audio(server.url("long.html"), limits=FetchLimits(max_duration_s=7200))
    assert "/ramp.wav" not in server.requested  # the page was read, its media never asked for
    assert "/long.html" in server.requested


def test_a_media_file_over_the_duration_limit_is_refused(server):
    with pytest.raises(SpeakerIDError, match="over the 5 s limit"):
        fetch_audio(server.url("ramp.wav"), limits=FetchLimits(max_duration_s=5))


def test_a_download_over_the_size_limit_is_stopped(server):
    with pytest.raises(LinkError, match="over the 100 kB download limit"):
        fetch_audio(server.url("ramp.wav"), limits=FetchLimits(max_bytes=100_000))


def test_links_are_told_from_paths_and_times_parsed():
    assert is_link("https://www.youtube.com/watch?v=x") and is_link(" http://a.org/b.mp3 ")
    assert not is_link("clip.wav") and not is_link("C:/clips/a.wav") and not is_link("http://")
    assert [parse_time(t) for t in ("90", "1:30", "1:02:03", "90.5", "", None)] == \
        [90.0, 90.0, 3723.0, 90.5, None, None]
    with pytest.raises(SpeakerIDError, match="not a time"):
        parse_time("1m30")


def test_a_page_gives_its_media_with_its_title_and_address(server):
    fetched = fetch_audio(server.url("long.html"))  # 3 h declared, under the default 4 h limit
    assert fetched.title == "Parliament debate"
    assert fetched.url == server.url("long.html")
    assert fetched.clip.duration_s == pytest.approx(6.0, abs=0.01)


def test_youtube_challenges_can_be_solved_here(tmp_path):
    """YouTube pages need yt-dlp's EJS scripts run by a JavaScript runtime: the options give Deno
    (installed with the requirements) by its path, and yt-dlp finds both. No YouTube request is made
    here (no internet in the tests)."""
    from yt_dlp import YoutubeDL
    from yt_dlp.dependencies import yt_dlp_ejs

    from speakerid.fetch import DEFAULT_LIMITS, _options

    with YoutubeDL(_options(tmp_path, DEFAULT_LIMITS, None)) as downloader:
        runtime = downloader._js_runtimes["deno"].info
    assert runtime is not None and runtime.supported, runtime
    assert yt_dlp_ejs is not None and yt_dlp_ejs.yt.solver.core()
