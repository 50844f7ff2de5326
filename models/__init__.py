"""Model builders: Keras architectures and scikit-learn baselines. No DuckDB, no core, no UI."""
