"""What the Streamlit pages present, without Streamlit: staged analysis, who speaks when, unknown
voices, live microphone, figures, inputs, batch reports, archives and the app password."""
