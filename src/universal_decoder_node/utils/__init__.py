"""Operational utilities with paths fixed by the specification: memory manager, profiler, HTTPS."""
