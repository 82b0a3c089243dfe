"""The load test's own machinery (benchmarks/load_test.py), without a model or a browser: a run
does exactly the requests it was asked for, counts failures instead of stopping, ends by itself at
its deadline, and the report renders whichever parts have been measured."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "load_test.py"


@pytest.fixture(scope="module")
def load_test():
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeGallery:
    """Answers after ``delay_s``; fails on every ``fail_every``-th call; records concurrency."""

    def __init__(self, delay_s: float = 0.0, fail_every: int = 0) -> None:
        self.delay_s, self.fail_every = delay_s, fail_every
        self.calls, self.active, self.most_active = 0, 0, 0
        self.lock = threading.Lock()

    def identify(self, path: Path) -> str:
        with self.lock:
            self.calls += 1
            number = self.calls
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.delay_s)
            if self.fail_every and number % self.fail_every == 0:
                raise ValueError("bad clip")
            return path.name
        finally:
            with self.lock:
                self.active -= 1


def test_a_run_does_every_request_once_and_counts_failures(load_test):
    gallery = FakeGallery(delay_s=0.001, fail_every=10)
    result = load_test.load_run(gallery, [Path("a.wav"), Path("b.wav")], threads=4, requests=120,
                                max_seconds=60)
    assert gallery.calls == 120 and result["requests"] == 120
    assert result["errors"] == 12 and result["first_error"] == "ValueError: bad clip"
    assert gallery.most_active > 1  # the clients really overlap
    assert result["rss_after_100_mb"] is not None and result["rss_after_last_mb"] > 0
    assert result["p50_ms"] <= result["p95_ms"] and not result["stopped_by_time"]


def test_a_run_ends_at_its_deadline(load_test):
    result = load_test.load_run(FakeGallery(delay_s=0.02), [Path("a.wav")], threads=2, requests=10**6,
                                max_seconds=0.3)
    # each request sleeps 20 ms, so two clients fit at most 32 in 0.3 s, however busy the machine
    assert result["stopped_by_time"] and 0 < result["requests"] < 100


def test_the_report_shows_the_parts_that_were_run(load_test):
    library = {"settings": {"speakers": 3, "query_s": 4.0, "distinct_query_files": 40, "encoder": "e"},
               "rss_after_warm_up_mb": 900.0, "command": "cmd-lib", "runtime_s": 10.0,
               "runs": [{"threads": 1, "requests": 5, "throughput_per_s": 2.0, "p50_ms": 400.0,
                         "p95_ms": 600.0, "rss_start_mb": 900.0, "rss_after_100_mb": None,
                         "rss_after_last_mb": 901.0, "errors": 0}]}
    text = load_test.markdown({"library": library})
    assert "| 1 | 5 | 2.00 | 400 | 600 | 900 | n/a | 901 | 0 |" in text
    assert "cmd-lib" in text and "## App" not in text


def test_the_report_shows_app_rounds_and_notes(load_test):
    round_ = {"pages": 2, "requests": 20, "wall_s": 100.0, "throughput_per_s": 0.2, "p50_ms": 9000.0,
              "p95_ms": 12000.0, "server_analysis_p50_s": 0.8, "clearing_s_mean": 1.5,
              "server_rss_before_mb": 950.0, "server_rss_after_mb": 990.0, "errors": 0,
              "server_rss_trace_mb": [950.0 + i for i in range(20)]}
    app = {"settings": {"speakers": 3, "query_s": 4.0, "encoder": "e", "requests_per_page": 10,
                        "query_files_refused": {"q.wav": "q.wav: no speech found"}},
           "server_rss_after_start_mb": 54.0, "rss_after_warm_up_mb": 950.0, "server_rss_at_end_mb": 991.0,
           "rounds": [round_], "command": "cmd-app", "runtime_s": 120.0}
    text = load_test.markdown({"app": app, "notes": ["a note"]})
    assert "| 2 | 20 | 100.0 | 0.200 | 9000 | 12000 | 0.8 | 950 | 990 | 0 |" in text
    assert "959, 969 MB" in text and "q.wav: no speech found" in text
    assert "- a note" in text and "## Library" not in text


def test_the_report_compares_several_pages_with_one_page_alone(load_test):
    def round_(pages: int, p50_ms: float) -> dict:
        return {"pages": pages, "requests": 4 * pages, "wall_s": 10.0, "throughput_per_s": 0.4,
                "p50_ms": p50_ms, "p95_ms": p50_ms, "server_analysis_p50_s": None, "clearing_s_mean": 0.5,
                "server_rss_before_mb": 950.0, "server_rss_after_mb": 990.0, "errors": 0,
                "server_rss_trace_mb": []}

    app = {"settings": {"speakers": 4, "query_s": 15.0, "encoder": "e", "requests_per_page": 4},
           "server_rss_after_start_mb": 54.0, "rss_after_warm_up_mb": 950.0, "server_rss_at_end_mb": 991.0,
           "rounds": [round_(1, 2000.0), round_(4, 5000.0)], "command": "cmd-app", "runtime_s": 120.0}
    text = load_test.markdown({"app": app})
    assert "against one page alone: 4 pages 2.5x." in text
    assert "| 4 | 16 | 10.0 | 0.400 | 5000 | 5000 | n/a |" in text  # no server figure: n/a, not None


def test_the_soak_report_says_how_much_memory_grew_and_whether_the_log_has_tracebacks(load_test):
    soak = {"settings": {"speakers": 4, "query_s": 15.0, "encoder": "e", "per_session": 3,
                         "soak_minutes": 10, "soak_warm_up_s": 120},
            "sessions_at_once": 10, "sessions_opened": 57, "requests": 160, "p50_ms": 30000.0,
            "p95_ms": 50000.0, "errors": 0, "rss_after_warm_up_mb": 1200.0,
            "server_rss_after_soak_warm_up_mb": 1300.0, "server_rss_soak_end_mb": 1326.0,
            "server_rss_growth_pct": 2.0, "server_log_tracebacks": 0, "load_average_min_max": [9.5, 14.0],
            "samples": [[15.0 * n, 1300.0 + n, 10.0] for n in range(40)], "command": "cmd-soak",
            "runtime_s": 700.0}
    text = load_test.markdown({"soak": soak})
    assert "## Soak (soak): 10 sessions at once for 10 min" in text
    assert "57 sessions opened and closed in all, 160 verdicts" in text
    assert "1300 MB after the first 120 s of the soak, 1326 MB at its end: **+2.0 %**" in text
    assert "Tracebacks in the server's log: **0**" in text and "during the run: 9.5-14.0" in text
    assert "0.0 min 1300, 1.0 min 1304, 2.0 min 1308" in text and "cmd-soak" in text  # 1 sample in 4
