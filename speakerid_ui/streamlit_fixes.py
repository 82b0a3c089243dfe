"""Work-arounds for Streamlit bugs the app meets, applied once per server process by
``speakerid_ui.frame.app_frame`` (every page run goes through it).

Each says which release it was found in and how to tell when it can go.
"""

from __future__ import annotations

import functools

from streamlit.runtime.forward_msg_queue import ForwardMsgQueue


def keep_upload_urls_across_reruns() -> None:
    """Stop Streamlit from losing the reply to a file upload when a rerun starts (Streamlit 1.67).

    Before a file is sent, the browser asks the server over the websocket where to send it; the server
    queues the answer (``file_urls_response``). When a script run starts before that queue is flushed
    (the user left a text field, which reruns the page, just before dropping a file), Streamlit clears
    the queue keeping only lifecycle messages, so the answer is lost and the upload waits forever, in
    that session and every later one of its uploads. Seen on a busy server in the browser test: about
    one enrolment in three lost its upload. Remove when ``ForwardMsgQueue.clear`` keeps
    ``file_urls_response`` (``tests/test_streamlit_fixes.py`` fails on the unpatched class then).
    """
    if getattr(ForwardMsgQueue.clear, "keeps_upload_urls", False):
        return
    clear = ForwardMsgQueue.clear

    @functools.wraps(clear)
    def clear_keeping_upload_urls(self: ForwardMsgQueue, retain_lifecycle_msgs: bool = False,
                                  fragment_ids_this_run: list[str] | None = None) -> None:
        replies = [msg for msg in self._queue if msg.WhichOneof("type") == "file_urls_response"]
        clear(self, retain_lifecycle_msgs=retain_lifecycle_msgs, fragment_ids_this_run=fragment_ids_this_run)
        if retain_lifecycle_msgs:
            self._queue[:0] = replies

    clear_keeping_upload_urls.keeps_upload_urls = True
    ForwardMsgQueue.clear = clear_keeping_upload_urls
