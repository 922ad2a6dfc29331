"""The node's serving layer, by the process that runs each part.

- ``app``: the main process: assembles the LitServe server and starts it (``run``);
  ``registration`` keeps the node registered with its coordinators; ``lifetime`` ties the
  child processes to it.
- ``http/``: each API server process: the routes (``translate`` for /translate and /decode,
  ``node_routes`` for health, status, languages and metrics, ``model_admin`` and
  ``operations`` for /admin).
- ``worker/``: each inference worker process: the LitServe API (``api``), the scheduling loop
  (``loop``) and the operations it answers (``models``, ``operations``).
- ``ipc/``: what crosses between them (``messages``), over pipes and control sockets; the one
  place that knows LitServe's internals.
- ``metrics``: the Prometheus metrics every process shares.

Request parsing and the error table live in ``protocol``, shared with the coordinator.
"""
