"""The realtime server: sockets, session loading, replay and the process-local
fan-out (README.md in this directory has the module map)."""
