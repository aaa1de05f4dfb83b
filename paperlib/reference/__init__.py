"""Reference methods that label data: BMHTF via LAMMPS (``bmhtf``)."""
