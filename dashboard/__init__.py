"""Privacy-policy compliance: the domain and data layer behind the Streamlit app."""
__version__ = "0.1.0"
