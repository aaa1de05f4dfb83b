"""paperlib: the companion package of the MLIP training-data compendium.

Data flows one way: reference -> sampling -> data -> selection -> models/training -> analysis -> plots.
"""

__version__ = "0.1.0"
