"""Developer scripts: a local multi-process topology, a fast test population,
the app icons rendered from the SVG (``python -m scripts.render_icons``).

Not part of the installed package; importable from the repository root
(``from scripts.topology import Topology``), as the benches and tests do.
"""
