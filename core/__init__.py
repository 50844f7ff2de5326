"""LiftLab core: the domain layer (warehouse, ingest, features, training, metrics, SHAP, impact).

Nothing here imports Streamlit; importing the package loads no TensorFlow and opens no file.
"""

__version__ = "0.1.0"
