"""pdq webui: the Streamlit page (a thin shell over :class:`rag.Assistant`)."""
