"""How a node's processes talk: work over pipes, operations over control sockets.

The one place that knows LitServe's internals (LitServe 0.2.19, pinned), each pinned by
``tests/serving/test_litserve_seam.py``:

- ``server.NodeServer`` overrides ``LitServer._init_manager``, where LitServe creates its
  request queues and answer transport, to install ``pipes.RequestPipes`` and
  ``pipes.AnswerPipes`` instead of ``multiprocessing.Manager`` queues;
- ``exchange.WorkExchange`` uses what LitServe sets on a spec: ``request_queue``,
  ``response_buffer`` and ``response_queue_id``;
- ``pipes.answer_frame`` builds answers in the tuple shape LitServe's
  ``response_queue_to_buffer`` reads in the API server;
- the worker's loop (``serving.worker.loop``) implements ``LitLoop.run`` with the arguments
  LitServe's worker entry passes.

``messages`` holds every message that crosses a process boundary; ``control`` is the socket
each inference worker answers operations on (model loads, cleanup, profiler).
"""
