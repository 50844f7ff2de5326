"""Streamlit glue: session state, bounded caches, shared widgets. Pages import this, never core internals they don't need."""
