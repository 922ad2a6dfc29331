"""The ``udn`` command: thin argument parsing that calls into the package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .cli_models import add_models_parser
from .config import DEFAULT_CONFIG_YAML, ConfigError, Settings, config_file, config_file_used, load_settings

_CONFIG_HELP = "YAML configuration file (default: $UDN_CONFIG, else ./udn.yaml when present)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"udn: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="udn", description="universal-decoder-node: a translation decoder node"
    )
    parser.add_argument("--version", action="version", version=f"udn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start a decoder node")
    serve.add_argument("--config", help=_CONFIG_HELP)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--ssl-certfile", type=Path, help="serve HTTPS with this PEM certificate (chain)")
    serve.add_argument("--ssl-keyfile", type=Path, help="the certificate's PEM private key")
    serve.add_argument(
        "--coordinator",
        metavar="URL[,URL...]",
        help="register with these coordinators, heartbeating each one (needs UDN_NODE_TOKEN)",
    )
    serve.set_defaults(handler=_serve)

    coord = sub.add_parser("coordinator", help="start a coordinator routing across decoder nodes")
    coord.add_argument("--config", help=_CONFIG_HELP)
    coord.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    coord.add_argument("--port", type=int, help="port to listen on (default 5100)")
    coord.set_defaults(handler=_coordinator)

    keys = sub.add_parser("keys", help="manage a coordinator's API keys (needs UDN_ADMIN_TOKEN)")
    _add_coordinator_options(keys)
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--name", default="", help="who or what the key is for")
    create.add_argument("--requests-per-minute", type=int, help="limit (default: the coordinator's; 0: none)")
    create.add_argument(
        "--characters-per-minute", type=int, help="limit (default: the coordinator's; 0: none)"
    )
    listing = keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = keys_sub.add_parser("revoke", help="revoke a key, for good")
    revoke.add_argument("key_id", help="the key's id, as 'udn keys list' shows it (k_...)")
    for command in (create, listing, revoke):
        _add_coordinator_options(command, after=True)
    keys.set_defaults(handler=_keys)

    tr = sub.add_parser("translate", help="translate in-process, without a server")
    tr.add_argument(
        "text", nargs="?", help="text to translate; '-' (or omitted, with a pipe) reads standard input"
    )
    tr.add_argument("--source", "-s", default="en", help="source language (default en)")
    tr.add_argument("--target", "-t", default="pt", help="target language (default pt)")
    tr.add_argument("--file", "-f", type=Path, help="translate every line of this file")
    tr.add_argument("--out", "-o", type=Path, help="write translations here (default: standard output)")
    tr.add_argument("--config", help="YAML configuration file")
    tr.set_defaults(handler=_translate)

    st = sub.add_parser("status", help="show a node's or a coordinator's /status")
    st.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="node or coordinator URL (default http://127.0.0.1:8000)",
    )
    st.add_argument("--json", action="store_true", help="print the raw JSON")
    st.set_defaults(handler=_status)

    init = sub.add_parser("init", help="write a commented default configuration file")
    init.add_argument(
        "path", nargs="?", default="udn.yaml", type=Path, help="where to write it (default udn.yaml)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_init)

    add_models_parser(sub)
    return parser


def _add_coordinator_options(parser: argparse.ArgumentParser, after: bool = False) -> None:
    """``--url``, ``--token`` and ``--config`` of ``udn keys``, accepted before or ``after`` the key command.

    After it they have no default, so that they never hide a value given before it.
    """
    default: Any = argparse.SUPPRESS if after else None
    parser.add_argument(
        "--url", default=default, help="coordinator URL (default: from the config, http://127.0.0.1:5100)"
    )
    parser.add_argument("--token", default=default, help="admin token (default: $UDN_ADMIN_TOKEN)")
    parser.add_argument("--config", default=default, help=_CONFIG_HELP)


def _settings(args: argparse.Namespace, **serving: Any) -> Settings:
    base = load_settings(getattr(args, "config", None))
    overrides = {k: v for k, v in serving.items() if v is not None}
    if not overrides:
        return base
    merged = base.serving.model_dump() | overrides
    return load_settings(getattr(args, "config", None), serving=merged)


def _choose_config(args: argparse.Namespace, command: str) -> None:
    """Set ``args.config`` by precedence (``config.config_file``); say so when ./udn.yaml is picked."""
    path, origin = config_file(args.config)
    if path is not None and origin == "the current folder":
        print(
            f"udn {command}: using {path.resolve()} from the current folder "
            "(--config FILE or UDN_CONFIG choose another)",
            file=sys.stderr,
        )
    args.config = path


def _serve(args: argparse.Namespace) -> int:
    from .serving.metrics_dir import prepare_metrics_dir

    _choose_config(args, "serve")
    prepare_metrics_dir()  # before anything imports prometheus_client
    settings = _settings(args, host=args.host, port=args.port)
    if args.coordinator:
        # The command line replaces the configured coordinators rather than adding to them.
        registration = settings.registration.model_dump() | {
            "coordinator_urls": args.coordinator,
            "coordinator_url": None,
        }
        settings = load_settings(
            args.config, serving=settings.serving.model_dump(), registration=registration
        )
    settings.https.check_redirect_hosts()
    tls: dict[str, str] = {}
    if args.ssl_certfile or args.ssl_keyfile:
        if not (args.ssl_certfile and args.ssl_keyfile):
            print("udn serve: --ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
            return 2
        for flag, path in (("--ssl-certfile", args.ssl_certfile), ("--ssl-keyfile", args.ssl_keyfile)):
            if not path.is_file():
                print(f"udn serve: {flag} {path}: no such file", file=sys.stderr)
                return 2
        import ssl

        try:  # fail here, clearly, rather than in every forked API server
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                args.ssl_certfile, args.ssl_keyfile
            )
        except (ssl.SSLError, OSError) as exc:
            print(
                f"udn serve: cannot use {args.ssl_certfile} with {args.ssl_keyfile}: {exc}", file=sys.stderr
            )
            return 2
        tls = {"ssl_certfile": str(args.ssl_certfile), "ssl_keyfile": str(args.ssl_keyfile)}
    from .models import check_local_pairs, pair_sources

    # Here, once, clearly: a bad model directory would otherwise fail every worker's start.
    check_local_pairs(pair_sources(settings))
    from .serving.app import run

    run(settings, config_file_used(args.config), **tls)
    return 0


def _coordinator(args: argparse.Namespace) -> int:
    from .serving.metrics_dir import MULTIPROC_ENV

    # The coordinator is one process with its own metrics registry, never prometheus multiprocess mode.
    os.environ.pop(MULTIPROC_ENV, None)
    _choose_config(args, "coordinator")
    settings = load_settings(args.config)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    if overrides:
        settings = load_settings(args.config, coordinator=settings.coordinator.model_dump() | overrides)
    settings.https.check_redirect_hosts()
    from .coordinator import SnapshotUntrusted, run

    try:
        run(settings, config_file_used(args.config))
    except SnapshotUntrusted as exc:
        print(
            f"udn coordinator: {exc}. Nothing in it is used and the coordinator does not start: "
            "restore the file (or the secret it was signed with), or move it aside to start without it",
            file=sys.stderr,
        )
        return 1
    return 0


def _keys(args: argparse.Namespace) -> int:
    from .coordinator.keys_cli import run_keys_command

    _choose_config(args, "keys")
    settings = load_settings(args.config)
    return run_keys_command(args, settings)


def _translate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from .engine import BatchTranslator, EngineError, TranslationJob
    from .serving.worker.api import build_registry

    piped = args.text is None and args.file is None and not sys.stdin.isatty() and sys.stdin.readable()
    from_stdin = args.text == "-" or piped
    if not from_stdin and (args.text is None) == (args.file is None):
        print("udn translate: give either a text, --file, or '-' for standard input", file=sys.stderr)
        return 2
    lines: list[str] = []
    if from_stdin:
        lines = sys.stdin.read().splitlines()
        if piped and not lines:
            print("udn translate: nothing on standard input to translate", file=sys.stderr)
            return 2
    elif args.file is not None:
        try:
            lines = args.file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"udn translate: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 1
    settings = _settings(args)
    registry = build_registry(settings)
    pair = f"{args.source.lower()}-{args.target.lower()}"
    translator = BatchTranslator(registry, settings.serving.threads)
    try:
        if args.text is not None and not from_stdin:
            (result,) = translator.translate([TranslationJob(pair, [args.text])])
            if isinstance(result, EngineError):
                print(f"udn translate: {result}", file=sys.stderr)
                return 1
            _write(args.out, result[0] + "\n")
            return 0
        name = args.file.name if args.file is not None else "standard input"
        out: list[str] = []
        chunk = 64
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task(f"Translating {name}", total=len(lines))
            for start in range(0, len(lines), chunk):
                part = lines[start : start + chunk]
                (result,) = translator.translate([TranslationJob(pair, part)])
                if isinstance(result, EngineError):
                    print(f"udn translate: {result}", file=sys.stderr)
                    return 1
                out.extend(result)
                progress.advance(task, len(part))
        _write(args.out, "".join(line + "\n" for line in out))
        if args.out is not None:
            print(f"translated {len(lines)} lines into {args.out}", file=sys.stderr)
        return 0
    finally:
        translator.close()


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def _status(args: argparse.Namespace) -> int:
    import json

    import httpx
    from rich.console import Console
    from rich.table import Table

    url = args.url.rstrip("/") + "/status"
    try:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        print(f"udn status: cannot get {url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    console = Console()
    if "nodes" in data and "routing" in data:
        _print_coordinator_status(console, args.url, data)
        return 0
    table = Table(title=f"decoder node {args.url}", show_header=False)
    for key in ("status", "version", "uptime"):
        table.add_row(key, str(data.get(key)))
    for key, value in data.get("memory", {}).items():
        table.add_row(f"memory.{key}", str(value))
    table.add_row("gpu_available", str(data.get("gpu_available")))
    if "pairs" in data:
        table.add_row("pairs", ", ".join(data["pairs"]))
    console.print(table)
    return 0


def _print_coordinator_status(console: Any, url: str, data: dict[str, Any]) -> None:
    from rich.table import Table

    summary = Table(title=f"coordinator {url}", show_header=False)
    state = data["state"]
    if state["mode"] == "redis":
        store = "Redis, " + ("available" if state["redis_available"] else "UNAVAILABLE")
    else:
        store = f"state file {state['state_file']} (no Redis)"
    for key, value in (
        ("status", f"{data['status']}: {data['reason']}"),
        ("version", data["version"]),
        ("uptime", f"{data['uptime_seconds']} s"),
        ("state", store),
        ("routing", data["routing"]["policy"]),
        ("pairs", ", ".join(f"{p} ({n})" for p, n in sorted(data["pairs"].items())) or "none"),
    ):
        summary.add_row(key, str(value))
    console.print(summary)
    nodes = Table(title=f"{len(data['nodes'])} nodes")
    for column in ("node", "url", "health", "circuit", "queue", "requests", "errors"):
        nodes.add_column(column, no_wrap=column == "node")
    for node in data["nodes"]:
        queue = f"{node['queued']} queued, {node['in_flight']} running, capacity {node['capacity']}"
        nodes.add_row(
            node["id"],
            node["url"],
            node["health"],
            node["circuit"],
            queue,
            str(node["requests"]),
            str(node["errors"]),
        )
    console.print(nodes)


def _init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.parent.is_dir():
        print(
            f"udn init: folder {path.parent} does not exist; create it first (mkdir -p {path.parent})",
            file=sys.stderr,
        )
        return 1
    if path.exists() and not args.force:
        print(f"udn init: {path} exists; use --force to overwrite", file=sys.stderr)
        return 1
    try:
        path.write_text(DEFAULT_CONFIG_YAML, encoding="utf-8")
    except OSError as exc:
        print(f"udn init: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    if path.name == "udn.yaml":
        where = "udn serve and udn coordinator read it when started in its folder"
    else:
        where = "udn serve and udn coordinator read it when given --config or UDN_CONFIG"
    print(
        f"  {where} (udn serve --config {path}, or UDN_CONFIG={path}); every key can also be set "
        "in the environment (UDN_SERVING__PORT=9000), which wins over the file",
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
