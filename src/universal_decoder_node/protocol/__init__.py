"""What clients send and get back, shared by the node (``serving``) and the coordinator.

LibreTranslate request parsing and the binary payload codec (``requests``), client errors
and the one mapping of exceptions to HTTP responses (``errors``), and the bearer-token guard
of ``/admin`` endpoints (``admin``).
"""
