"""The live run stream: server-sent events of a user's runs as they are created, start, finish a
step and end.

``POST /api/stream/token`` (a DRF view, served with the rest of the API) gives a short-lived token
that a browser's EventSource can carry in the URL; ``asgi`` is the stream server, a separate
ASGI process (uvicorn) where thousands of idle connections cost little. Its ``hub`` follows the one
Redis stream of run events (``workflows.events``) and hands each event to the subscribers it
concerns; ``render`` reads the runs as the API shows them.
"""
