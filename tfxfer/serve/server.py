"""`serve`: the REST and gRPC servers over one registry of models, on one event loop.

The model calls run in a thread pool (TensorFlow releases the GIL), so the
event loop keeps answering while a batch runs. The servers listen before
the models are loaded: `/readyz` says when they are. SIGTERM and Ctrl-C stop
accepting, let in-flight requests finish, then exit.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import urllib.parse
from pathlib import Path
from typing import Callable

import grpc
from aiohttp import web

from tfxfer import config
from tfxfer.errors import ConfigError, DataError, OutputError
from tfxfer.serve.grpc import add_services
from tfxfer.serve.models import Registry
from tfxfer.serve.rest import RestApi
from tfxfer.serve.tensors import ServeError

logger = logging.getLogger("tfxfer.serve")


def _address(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets (`[::1]:8500`), as URLs and gRPC take them."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_port(host: str, port: int, flag: str) -> None:
    """Fail early, in one line, when a port is taken (grpc would only log it)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be opened ({e.strerror})"
            raise OutputError(f"Port {port} on {host} {why}. Stop what listens there, or pass {flag} with another "
                              "port.") from None


def _check_origin(origin: str) -> str:
    """An origin as browsers send it (`scheme://host[:port]`, no trailing slash), or `*`; `ConfigError` naming the fix."""
    if origin == "*":
        return origin
    parts = urllib.parse.urlsplit(origin.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ConfigError(f"`allow_origins` holds {origin!r}, which is no web origin: give a page's scheme, host and "
                          "port, as a browser sends them, e.g. --allow-origin http://localhost:3000 (or '*': any "
                          "page).")
    return f"{parts.scheme}://{parts.netloc.lower()}"  # as browsers send it


async def run(export_dir: str | Path, cfg: config.ServeConfig, started: Callable[[dict], None] | None = None,
              stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT); see `serve`."""
    origins = tuple(_check_origin(o) for o in cfg.allow_origins)
    if cfg.latest_versions < 0:
        raise ConfigError(f"`latest_versions` must be 0 (all) or more. Received: {cfg.latest_versions}.")
    if cfg.max_batch_size < 1 or cfg.max_request_bytes < 1 or cfg.poll_seconds <= 0:
        raise ConfigError("`max_batch_size`, `max_request_bytes` and `poll_seconds` must be positive. Received: "
                          f"{cfg.max_batch_size}, {cfg.max_request_bytes}, {cfg.poll_seconds}.")
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise DataError(f"{str(export_dir)!r} is not a directory. Pass the --out of `tfxfer fit-head`.")
    try:
        registry = Registry(export_dir, batching=cfg.batching, max_batch_size=cfg.max_batch_size,
                            batch_timeout=cfg.batch_timeout_ms / 1000, poll_seconds=cfg.poll_seconds,
                            latest_versions=cfg.latest_versions)
    except ServeError as e:
        raise DataError(e.message) from None
    _check_port(cfg.host, cfg.port, "--port")
    if cfg.grpc_port:
        _check_port(cfg.host, cfg.grpc_port, "--grpc-port")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    if "*" in origins:
        logger.warning("Any web page a browser here opens may call these models (--allow-origin '*').")
    # A client that goes away cancels its request, so the model stops working on it between batches.
    runner = web.AppRunner(RestApi(registry, cfg.max_request_bytes, origins).app, access_log=None,
                           shutdown_timeout=cfg.grace_seconds, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    await site.start()
    rest_port = runner.addresses[0][1]  # the one the system chose for --port 0
    grpc_server = grpc_port = None
    if cfg.grpc_port:
        grpc_server = grpc.aio.server(options=[("grpc.max_receive_message_length", cfg.max_request_bytes),
                                               ("grpc.max_send_message_length", cfg.max_request_bytes)])
        add_services(grpc_server, registry)
        grpc_port = grpc_server.add_insecure_port(_address(cfg.host, cfg.grpc_port))
        await grpc_server.start()
    if started:
        started({"rest": f"http://{_address(cfg.host, rest_port)}",
                 "grpc": _address(cfg.host, grpc_port) if grpc_port else None,
                 "local_only": cfg.host in ("127.0.0.1", "localhost", "::1")})
    try:
        await registry.start()
        if started:
            started({"models": {n: registry.available(n) for n in sorted(registry.models)},
                     "version_labels": {n: registry.labels(n) for n in sorted(registry.models)}})
        await stop.wait()
    finally:
        logger.info("Stopping: finishing the requests under way.")
        if grpc_server:
            await grpc_server.stop(cfg.grace_seconds)
        await runner.cleanup()
        await registry.stop()


def serve(export_dir: str | Path, cfg: config.ServeConfig = config.SERVE,
          started: Callable[[dict], None] | None = None) -> None:
    """Serve every model under `export_dir` over TF Serving's REST and gRPC APIs until stopped.

    Args:
        export_dir: The `--out` of `fit-head` (`NAME/VERSION/` folders; `models.config`
            if present says which models, versions and version labels, as to TF Serving).
        cfg: Addresses, batching and limits. Defaults to `config.SERVE`.
        started: Called with `{"rest": url, "grpc": address, "local_only": bool}` once
            listening (the ports bound: for `cfg.port` 0, the one the system chose), then with `{"models": {name: [versions]}, "version_labels":
            {name: {label: version}}}` once loaded.
    """
    asyncio.run(run(export_dir, cfg, started))
