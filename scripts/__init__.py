"""Developer scripts: a local multi-process topology and a fast test population.

Not part of the installed package; importable from the repository root
(``from scripts.topology import Topology``), as the benches and tests do.
"""
