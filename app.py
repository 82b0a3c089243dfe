"""speakerid app: `streamlit run app.py` (or `make run`).

Identify (home), Gallery, Archive, Live and Train pages, one file each in ``pages/``, routed by
``st.navigation`` (in ``speakerid_ui.frame.app_frame``); all the work is done by the speakerid package.
Each page first calls ``speakerid_ui.frame.ensure_app_frame``: Streamlit 1.67 runs a page asked for by
URL as a fresh server's first request straight from ``pages/``, without this script.
"""

import speakerid_ui as ui

ui.run_page(ui.app_frame())
