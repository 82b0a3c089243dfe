"""What the Streamlit pages present, without Streamlit: staged analysis, live microphone, figures,
inputs, batch reports, zip unpacking and the app password. Who speaks when and the voices nobody
enrolled are core stages (:mod:`speakerid.timeline`, :mod:`speakerid.voices`)."""
