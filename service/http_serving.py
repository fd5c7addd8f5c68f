"""Serving an ASGI app under uvicorn until SIGTERM/SIGINT (the review page and the API).

uvicorn shuts down gracefully on those signals (requests in flight are answered) and then
re-raises the signal to the handler installed before it; a no-op handler there turns the re-raise
into a plain return, so the command exits 0 like ``postguard serve``.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

__all__ = ["serve_until_signal"]

logger = logging.getLogger(__name__)


async def serve_until_signal(app: Any, *, host: str, port: int, name: str) -> None:
    """Serve ``app`` on ``host:port`` (no access log, no Server header) until SIGTERM or SIGINT."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", server_header=False
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is not threading.main_thread():
        await server.serve()
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        await server.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("%s stopped", name)
