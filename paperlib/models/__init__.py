"""Trained potentials behind one interface (:mod:`paperlib.models.base`)."""
