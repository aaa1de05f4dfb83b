"""Data sets (structures + reference labels), file formats and splits."""
