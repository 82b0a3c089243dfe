"""The app's work-arounds for Streamlit bugs: each still needed, and each doing its job."""

from __future__ import annotations

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from speakerid_ui import streamlit_fixes


def queue_with_an_upload_reply() -> ForwardMsgQueue:
    """What the server holds when a rerun starts just after the browser asked where to upload."""
    queue = ForwardMsgQueue()
    reply = ForwardMsg()
    reply.file_urls_response.response_id = "upload-1"
    reply.file_urls_response.file_urls.add(file_id="f1", upload_url="/_stcore/upload_file/s/f1")
    queue.enqueue(reply)
    delta = ForwardMsg()
    delta.metadata.delta_path[:] = [0, 0]
    delta.delta.new_element.markdown.body = "an element of the interrupted run"
    queue.enqueue(delta)
    return queue


def kinds(messages: list[ForwardMsg]) -> list[str]:
    return [message.WhichOneof("type") for message in messages]


def test_streamlit_itself_still_drops_the_upload_reply_when_a_rerun_starts():
    """When this fails, Streamlit keeps the reply itself: remove keep_upload_urls_across_reruns."""
    streamlit_fixes.keep_upload_urls_across_reruns()
    streamlit_clear = ForwardMsgQueue.clear.__wrapped__
    queue = queue_with_an_upload_reply()
    streamlit_clear(queue, retain_lifecycle_msgs=True)
    assert kinds(queue.flush()) == []


def test_the_upload_reply_survives_a_rerun_and_the_interrupted_run_does_not():
    streamlit_fixes.keep_upload_urls_across_reruns()
    streamlit_fixes.keep_upload_urls_across_reruns()  # applied once, however often the app runs
    assert not hasattr(ForwardMsgQueue.clear.__wrapped__, "keeps_upload_urls")
    queue = queue_with_an_upload_reply()
    queue.clear(retain_lifecycle_msgs=True)
    sent = queue.flush()
    assert kinds(sent) == ["file_urls_response"]
    assert sent[0].file_urls_response.response_id == "upload-1"
    assert queue.is_empty()


def test_a_closed_session_drops_everything():
    streamlit_fixes.keep_upload_urls_across_reruns()
    queue = queue_with_an_upload_reply()
    queue.clear()
    assert queue.is_empty()
