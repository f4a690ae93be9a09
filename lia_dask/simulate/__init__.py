"""Training-set simulation at survey scale: five classes on the survey's own cadence and noise.

Classes (MicroLIA's labels): ``ML`` (blended point-source point-lens microlensing), ``CV``
(dwarf-nova outbursts), ``LPV`` (OGLE-III bulge Miras), ``VARIABLE`` (RR Lyrae, Sesar et al.
2010 templates) and ``CONSTANT``. See ``docs/simulation.md``.
"""
from __future__ import annotations

from .cadence import CadencePool, load_cadences, synthetic_cadences
from .config import SimulationConfig
from .engine import object_generator, simulate_range
from .noise import NoiseModel

__all__ = ["CadencePool", "NoiseModel", "SimulationConfig", "load_cadences", "object_generator",
           "simulate_range", "synthetic_cadences"]
