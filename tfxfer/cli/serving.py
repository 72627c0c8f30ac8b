"""`tfxfer serve`."""

from __future__ import annotations

import logging

import click

from tfxfer import config
from tfxfer.cli import main
from tfxfer.cli.common import library_errors


@main.command("serve", short_help="TF Serving's REST and gRPC APIs, with a web page.")
@click.argument("export_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--host", default=config.SERVE.host, show_default=True,
              help="Address to listen on; 0.0.0.0 accepts other machines.")
@click.option("--port", default=config.SERVE.port, show_default=True,
              help="REST port (0: a free one, printed at start).")
@click.option("--grpc-port", default=config.SERVE.grpc_port, show_default=True, help="gRPC port (0: no gRPC).")
@click.option("--batching/--no-batching", default=config.SERVE.batching, show_default=True,
              help="Merge concurrent requests into one model call.")
@click.option("--max-batch-size", default=config.SERVE.max_batch_size, show_default=True,
              help="Most examples per model call: concurrent requests are merged up to it, and a larger "
                   "request runs in parts of it (memory grows with the batch).")
@click.option("--batch-timeout-ms", default=config.SERVE.batch_timeout_ms, show_default=True,
              help="How long a batch that is not full waits for more requests (0: never waits).")
@click.option("--max-request-bytes", default=config.SERVE.max_request_bytes, show_default=True,
              help="Largest request body or gRPC message; larger ones get 413 / RESOURCE_EXHAUSTED.")
@click.option("--poll-seconds", default=config.SERVE.poll_seconds, show_default=True,
              help="How often new versions are looked for.")
@click.option("--latest-versions", default=config.SERVE.latest_versions, show_default=True,
              type=click.IntRange(min=0),
              help="How many of each model's highest versions to load (0: all), unless models.config states a "
                   "version policy. Each costs memory.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages of ORIGIN (e.g. http://localhost:3000; '*': any page) call the REST API from a "
                   "browser (CORS). Repeat for several.")
@click.option("--quiet", "-q", is_flag=True, help="No request log.")
@library_errors
def serve_command(export_dir, host, port, grpc_port, batching, max_batch_size, batch_timeout_ms, max_request_bytes,
                  poll_seconds, latest_versions, allow_origins, quiet):
    """Serve exported models over TF Serving's REST and gRPC APIs, with a page to try them.

    EXPORT_DIR is the --out of fit-head. Every model under it is served as
    TF Serving serves it: the same URLs, JSON, gRPC services and status
    codes, so client code works against tfxfer serve and tensorflow/serving
    alike. The highest version answers by default, any loaded one through
    /versions/N (the latest few: --latest-versions); new versions are loaded
    without a restart. A models.config in EXPORT_DIR is read as TF Serving
    reads it: its models, version policies and version labels
    (/labels/LABEL). Open the REST address in a browser to try a model and
    read its report.

    Example: tfxfer serve runs/export  then  curl -d '{"instances": ["some text"]}'
    localhost:8501/v1/models/NAME:predict
    """
    from tfxfer.serve.server import serve

    logging.getLogger("tfxfer.serve").setLevel(logging.INFO)
    logging.getLogger("tfxfer.serve.access").setLevel(logging.WARNING if quiet else logging.INFO)

    def started(info):
        if "rest" in info:
            click.echo(f"REST API and page: {info['rest']}/   gRPC: {info['grpc'] or 'off'}", err=True)
            if info["local_only"]:
                click.echo(f"Listening on {host} only: pass --host 0.0.0.0 to accept other machines.", err=True)
            else:
                click.echo(f"Listening on {host}: other machines can reach these models (no authentication).",
                           err=True)
        else:
            def labelled(name):
                labels = info["version_labels"].get(name)
                return "".join(f"; {k}: {v}" for k, v in sorted(labels.items())) if labels else ""

            models = ", ".join(f"{n} (versions {', '.join(map(str, v)) or 'none loaded'}{labelled(n)})"
                               for n, v in info["models"].items())
            click.echo(f"Ready: {models or 'no models found'}. Ctrl-C to stop.", err=True)

    cfg = config.ServeConfig(host=host, port=port, grpc_port=grpc_port, batching=batching,
                             max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms,
                             max_request_bytes=max_request_bytes, poll_seconds=poll_seconds,
                             latest_versions=latest_versions, allow_origins=allow_origins)
    serve(export_dir, cfg, started)
    click.echo("Stopped.", err=True)
