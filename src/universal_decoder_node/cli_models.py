"""``udn models``: list, pull and remove language-pair models in the model store; install Argos packages."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings

if TYPE_CHECKING:
    from .engine import ModelLoadError


def add_models_parser(sub: Any) -> None:
    """Register ``udn models list|pull|rm|install`` on the top-level subparsers."""
    models = sub.add_parser("models", help="list, download and remove language-pair models")
    commands = models.add_subparsers(dest="models_command", required=True)

    ls = commands.add_parser("list", help="configured pairs: source, stored (with size), loaded")
    ls.add_argument("--config", help="YAML configuration file (default: $UDN_CONFIG)")
    ls.add_argument("--url", help="node to ask what is loaded (default: the configured host and port)")
    ls.set_defaults(handler=_list)

    pull = commands.add_parser("pull", help="download a pair's model into the model store")
    pull.add_argument(
        "target",
        help="a configured pair (en-es), a models.multilingual name or a repository (org/name[@revision])",
    )
    pull.add_argument("--config", help="YAML configuration file (default: $UDN_CONFIG)")
    pull.set_defaults(handler=_pull)

    rm = commands.add_parser("rm", help="delete a pair's downloaded model from the model store")
    rm.add_argument("target", help="a configured pair (en-es) or a repository (org/name)")
    rm.add_argument("--config", help="YAML configuration file (default: $UDN_CONFIG)")
    rm.set_defaults(handler=_rm)

    install = commands.add_parser(
        "install", help="install an Argos Translate package (.argosmodel) into the model store"
    )
    install.add_argument("package", help="a .argosmodel file, or its https:// URL")
    install.add_argument("--config", help="YAML configuration file (default: $UDN_CONFIG)")
    install.set_defaults(handler=_install)


# What a pair or path that is already on this machine needs from each command.
_LOCAL = {"pull": "it needs no pull", "rm": "there is nothing to remove from the model store"}


def _hub_model(settings: Settings, target: str, command: str) -> Any:
    """The HubModel a pair or repository names; prints why not and returns None when it names none."""
    from .models import HubModel, HubSource, RepoRef, pair_sources
    from .models.sources import multilingual_hub_model

    if target.startswith(("/", ".", "~")):  # no Hub repository id starts so
        print(
            f"udn models {command}: {target} is a path on this machine, not a Hub repository; "
            f"{_LOCAL[command]} (serve a model directory as models.pairs.<pair>.path)",
            file=sys.stderr,
        )
        return None
    if "/" in target:
        try:
            ref = RepoRef.parse(target)
        except ValueError as exc:
            print(f"udn models {command}: {exc}", file=sys.stderr)
            return None
        return HubModel(ref, label=str(ref))
    multilingual = settings.models.multilingual.get(target)
    if multilingual is not None:  # a multilingual model by name: one snapshot for all its pairs
        if multilingual.repo is None:
            print(
                f"udn models {command}: models.multilingual.{target} is a model directory "
                f"({multilingual.path}), not from the Hub; {_LOCAL[command]}",
                file=sys.stderr,
            )
            return None
        return multilingual_hub_model(target, multilingual)
    sources = pair_sources(settings)
    source = sources.get(target)
    if source is None:
        listed = ", ".join(sorted(sources)) or "none"
        print(
            f"udn models {command}: pair {target!r} is not configured; configured: {listed}", file=sys.stderr
        )
        return None
    if not isinstance(source, HubSource):
        kind = {"bundled": "bundled", "argos": "an Argos Translate package"}.get(
            source.kind, "a model directory"
        )
        print(
            f"udn models {command}: pair {target!r} is {kind} ({source.path}), not from the Hub; "
            f"{_LOCAL[command]}",
            file=sys.stderr,
        )
        return None
    return source.model


def _one_line(error: ModelLoadError) -> str:
    """The operator's full account of a failure (paths and URLs included), on one line."""
    return " ".join(error.detail.split())


def _pull(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from .engine import ModelLoadError
    from .models import HubOptions, fetch, model_store

    settings = load_settings(args.config)
    model = _hub_model(settings, args.target, "pull")
    if model is None:
        return 1
    # What the download says it is doing (waiting for another process, storing) goes to stderr.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    hub_log = logging.getLogger("universal_decoder_node.models.hub")
    hub_log.addHandler(handler)
    hub_log.setLevel(logging.INFO)
    store = model_store(settings)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as progress:
        title = str(model.ref) if model.label == str(model.ref) else f"{model.label}: {model.ref}"
        task = progress.add_task(title, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        try:
            snapshot = fetch(store, model, HubOptions.from_settings(settings.adapters), report, refresh=True)
        except ModelLoadError as exc:
            print(f"udn models pull: {_one_line(exc)}", file=sys.stderr)
            return 1
    print(f"{title}: commit {snapshot.commit[:12]}, {_size(snapshot.size_bytes())}")
    print(f"  stored in {snapshot.path}")
    return 0


def _install(args: argparse.Namespace) -> int:
    import filelock
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from .engine import ModelLoadError
    from .models import pair_sources
    from .models.argos import install

    settings = load_settings(args.config)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task(args.package, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        try:
            installed = install(
                settings.adapters.dir,
                args.package,
                timeout=settings.adapters.download_timeout,
                progress=report,
            )
        except filelock.Timeout:
            print(
                "udn models install: another install into this model store is running; try again later",
                file=sys.stderr,
            )
            return 1
        except ModelLoadError as exc:
            print(f"udn models install: {_one_line(exc)}", file=sys.stderr)
            return 1
    package = installed.package
    print(f"{package.pair}: Argos Translate package {package.package_version}, {_size(package.size_bytes())}")
    print(f"  installed in {package.path}")
    if installed.replaced:
        print(f"  replaced version {', '.join(installed.replaced)}")
    served = pair_sources(settings).get(package.pair)
    if served is not None and served.kind != "argos":
        print(
            f"  not served while {package.pair} is {served.describe()['source']} (models.pairs or "
            "adapters.repos), which takes precedence"
        )
    else:
        print("  every node using this model store serves it from its next start")
    return 0


def _rm(args: argparse.Namespace) -> int:
    import filelock

    from .engine import ModelLoadError
    from .models import model_store

    settings = load_settings(args.config)
    model = _hub_model(settings, args.target, "rm")
    if model is None:
        return 1
    repo_id = model.ref.repo_id
    try:
        freed = model_store(settings).remove(repo_id, timeout=10)
    except filelock.Timeout:
        print(f"udn models rm: {repo_id} is being downloaded right now; try again later", file=sys.stderr)
        return 1
    except ModelLoadError as exc:
        print(f"udn models rm: {_one_line(exc)}", file=sys.stderr)
        return 1
    if freed == 0:
        print(f"{repo_id}: nothing stored")
    else:
        print(f"{repo_id}: removed, {_size(freed)} freed")
        print(
            "  a running node keeps the pair loaded until it unloads it, and downloads it again when needed"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .models import ArgosSource, HubSource, argos_packages, model_store, pair_sources

    settings = load_settings(args.config)
    sources = pair_sources(settings)
    url = (args.url or f"http://{settings.serving.host}:{settings.serving.port}").rstrip("/")
    loaded, note = _loaded_pairs(url, settings.admin.token)
    table = Table(title=f"language pairs (store: {settings.adapters.dir})")
    for column in ("pair", "source", "stored", "size", "loaded"):
        table.add_column(column)
    configured_repos = set()
    for pair, source in sorted(sources.items()):
        if isinstance(source, HubSource):
            configured_repos.add(source.model.ref.repo_id)
            snapshot = source.cached()
            origin = str(source.model.ref)
            stored = f"yes ({snapshot.commit[:12]})" if snapshot else "no"
            size = _size(snapshot.size_bytes()) if snapshot else "-"
        elif isinstance(source, ArgosSource):
            origin = f"argos {source.package.package_version} ({source.location})"
            stored, size = "local", _size(source.package.size_bytes())
        else:
            origin = source.kind if source.kind == "bundled" else f"{source.kind}: {source.path}"
            stored, size = "local", "-"
        table.add_row(pair, origin, stored, size, loaded.get(pair, "?" if note else "no"))
    console = Console()
    console.print(table)
    others = [s for s in model_store(settings).snapshots() if s.repo_id not in configured_repos]
    if others:
        extra = Table(title="also in the store (not configured)")
        for column in ("repository", "commit", "refs", "size"):
            extra.add_column(column)
        for snap in others:
            extra.add_row(
                snap.repo_id, snap.commit[:12], ", ".join(snap.refs) or "-", _size(snap.size_bytes())
            )
        console.print(extra)
    packages = argos_packages(settings)
    if packages:
        argos = Table(title="Argos Translate packages")
        for column in ("pair", "version", "found in", "size", "served"):
            argos.add_column(column)
        for where, package in packages:
            serving = sources.get(package.pair)
            if isinstance(serving, ArgosSource) and serving.path == package.path:
                served = "yes"
            elif isinstance(serving, ArgosSource):
                served = f"no: {serving.package.package_version} ({serving.location}) wins"
            else:
                served = f"no: {serving.kind if serving else '?'} wins"
            size = _size(package.size_bytes())
            argos.add_row(package.pair, package.package_version, where, size, served)
        console.print(argos)
    if note:
        console.print(f"loaded: {note}")
    return 0


def _loaded_pairs(url: str, token: str | None) -> tuple[dict[str, str], str]:
    """Per pair, where it is loaded on the node at ``url``; or a note saying why that is unknown."""
    import httpx

    if not token:
        return {}, "unknown (set UDN_ADMIN_TOKEN or admin.token to ask the node)"
    try:
        response = httpx.get(f"{url}/admin/models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError:
        return {}, f"unknown (no node answers at {url})"
    if response.status_code != 200:
        return {}, f"unknown (the node at {url} answered {response.status_code})"
    out: dict[str, str] = {}
    for pair, info in response.json().get("pairs", {}).items():
        workers = info.get("workers", {})
        states = [w.get("state", "?") for w in workers.values()]
        n_loaded = states.count("loaded")
        memory = max((int(w.get("memory_bytes", 0)) for w in workers.values()), default=0)
        if n_loaded:
            out[pair] = f"{n_loaded}/{len(states)} workers, {_size(memory)}"
        elif "loading" in states:
            out[pair] = "loading"
        elif "failed" in states:
            out[pair] = "failed"
        else:
            out[pair] = "no"
    return out, ""


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover
