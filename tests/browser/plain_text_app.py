"""A page that shows hostile values through ui.plain in every element that renders
Markdown (tests/browser/test_plain_text.py reads what the browser made of them)."""
import streamlit as st

from dashboard.ui import plain
from tests.browser.hostile import HOSTILE

for i, value in enumerate(HOSTILE):
    with st.container(key=f"case_{i}"):
        st.markdown(f"**Value:** {plain(value)}")
        st.caption(f"Caption {plain(value)}")
        st.error(f"Error {plain(value)}")
        st.subheader(f"Heading {plain(value)}", anchor=False)
        st.button(f"Button {plain(value)}", key=f"button_{i}")
        with st.expander(f"Expander {plain(value)}"):
            st.write("inside")
        st.tabs([f"Tab {plain(value)}"])
        st.metric(f"Metric {plain(value)}", 1)
