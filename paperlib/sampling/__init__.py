"""Sampling of configurations: MD drivers (LAMMPS for the reference, ASE for ML models)."""
