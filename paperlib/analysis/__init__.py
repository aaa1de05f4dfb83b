"""Analysis of trained models: error metrics, RDFs, claims."""
