"""A Hugging Face Hub stand-in on loopback, speaking enough of the real protocol for huggingface_hub.

The Hub cannot be reached from the test machines, so the tests point ``HF_ENDPOINT`` here and
the real ``huggingface_hub`` client code runs against it: the revision endpoint
(``/api/models/{repo}/revision/{rev}``, with ``blobs=True`` file metadata), the tree listing
(``/api/models/{repo}/tree/{rev}``), and ``HEAD``/``GET`` on ``/{repo}/resolve/{rev}/{file}``
with ``X-Repo-Commit``, ``ETag`` (the LFS sha256, or the git blob id) and byte ranges.

Repositories are built from real files (the bundled Bergamot models), so what the node
downloads is a real model. Faults can be switched on per file: ``corrupt`` (right size, wrong
bytes), ``truncate`` (the connection drops halfway, and every resume attempt fails), and a
``gate`` that stalls every body after its first chunk until released. Every request is logged.

A hostile Hub is built the same way: ``add_commit(..., commit="../../x")`` answers that commit
id (in ``sha`` and ``X-Repo-Commit``), and any file name (``../../x``, ``/abs/x``) is listed as given.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.auth import ADMIN_TOKEN

LFS_THRESHOLD = 64 * 1024  # files above this size are served as LFS files, as the Hub does for weights
_CHUNK = 256 * 1024


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""
    blob_id: str = ""

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        if self.lfs:
            spec = "version https://git-lfs.github.com/spec/v1"
            pointer = f"{spec}\noid sha256:{self.sha256}\nsize {len(self.data)}\n"
            self.blob_id = git_blob_id(pointer.encode())
        else:
            self.blob_id = git_blob_id(self.data)

    @property
    def lfs(self) -> bool:
        return len(self.data) > LFS_THRESHOLD

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.blob_id


@dataclass
class HubRepo:
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


class FakeHub:
    """Start with ``start()``; ``url`` is what HF_ENDPOINT should be."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.corrupt: set[str] = set()
        self.truncate: set[str] = set()
        self.gate: threading.Event | None = None
        self.bytes_per_second: float | None = None
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- building repositories -------------------------------------------------

    def add_commit(
        self,
        repo_id: str,
        files: dict[str, bytes],
        refs: tuple[str, ...] = ("main",),
        commit: str | None = None,
    ) -> str:
        """Add a commit holding ``files``; point ``refs`` (branches or tags) at it. Returns its id.

        ``commit`` forces the id the Hub answers (a hostile Hub's ``../../x``); by default it is
        a hash of the content, as on the real Hub.
        """
        repo = self.repos.setdefault(repo_id, HubRepo())
        hub_files = {name: HubFile(data) for name, data in sorted(files.items())}
        commit = (
            commit
            or hashlib.sha1(
                (repo_id + "".join(f"{n}:{f.blob_id}" for n, f in hub_files.items())).encode()
            ).hexdigest()
        )
        repo.commits[commit] = hub_files
        for ref in refs:
            repo.refs[ref] = commit
        return commit

    def add_model_dir(
        self,
        repo_id: str,
        directory: Path,
        refs: tuple[str, ...] = ("main",),
        commit: str | None = None,
        extra: dict[str, bytes] | None = None,
    ) -> str:
        """Add a commit holding the model directory's files, then ``extra`` (added or replaced)."""
        files = {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}
        files["README.md"] = f"# {repo_id}\nA Bergamot model served by the test hub.\n".encode()
        files.update(extra or {})
        return self.add_commit(repo_id, files, refs, commit)

    # -- running ---------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            if self.gate is not None:
                self.gate.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def log(self, method: str, path: str) -> None:
        with self._log_lock:
            self.requests.append((method, path))

    def count(self, method: str | None = None, contains: str = "") -> int:
        with self._log_lock:
            return sum(1 for m, p in self.requests if (method is None or m == method) and contains in p)

    def file_downloads(self, name: str, repo_id: str = "") -> int:
        """GET requests for a file's content, of one repository or any (resume attempts included)."""
        with self._log_lock:
            return sum(
                1
                for m, p in self.requests
                if m == "GET" and p.endswith(f"/{name}") and p.startswith(f"/{repo_id}")
            )


_REVISION = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/(.+)$")
_TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/.*)?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        if url.path == "/_stats":  # for a benchmark running the stand-in in another process
            return self._json({"requests": len(self.fake.requests)}, "")
        self.fake.log(self.command, path)
        if match := _REVISION.match(url.path):
            return self._revision(unquote(match[1]), unquote(match[2]), parse_qs(url.query))
        if match := _TREE.match(url.path):
            return self._tree(unquote(match[1]), unquote(match[2]))
        if match := _RESOLVE.match(url.path):
            return self._resolve(unquote(match[1]), unquote(match[2]), unquote(match[3]), head)
        self._error(404, "EntryNotFound", f"no route for {path}")

    def _find(self, repo_id: str, revision: str) -> tuple[HubRepo, str] | None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo, commit

    def _revision(self, repo_id: str, revision: str, query: dict[str, list[str]]) -> None:
        found = self._find(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for name, f in repo.commits[commit].items():
            sibling: dict[str, Any] = {"rfilename": name}
            if blobs:
                sibling.update(size=len(f.data), blobId=f.blob_id)
                if f.lfs:
                    sibling["lfs"] = {"size": len(f.data), "sha256": f.sha256, "pointerSize": 134}
            siblings.append(sibling)
        self._json(
            {
                "_id": hashlib.md5(repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
                "id": repo_id,
                "modelId": repo_id,
                "author": repo_id.split("/")[0],
                "sha": commit,
                "lastModified": "2024-01-01T00:00:00.000Z",
                "private": False,
                "disabled": False,
                "gated": False,
                "tags": ["translation"],
                "siblings": siblings,
            },
            commit,
        )

    def _tree(self, repo_id: str, revision: str) -> None:
        found = self._find(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        entries = []
        for name, f in repo.commits[commit].items():
            entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": len(f.data), "path": name}
            if f.lfs:
                entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 134}
            entries.append(entry)
        self._json(entries, commit)

    def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
        found = self._find(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        f = repo.commits[commit].get(filename)
        if f is None:
            self._error(404, "EntryNotFound", f"{filename} does not exist at {commit}", commit)
            return
        data = f.data
        if filename in self.fake.corrupt:
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        start = 0
        range_header = self.headers.get("Range")
        if range_header and (m := re.match(r"bytes=(\d+)-", range_header)):
            start = int(m[1])
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{f.etag}"')
        if f.lfs:
            self.send_header("X-Linked-Etag", f'"{f.etag}"')
            self.send_header("X-Linked-Size", str(len(f.data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        if filename in self.fake.truncate:
            # Half the file, then the connection drops; resume attempts get nothing at all.
            if not start:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._send_body(body)

    def _send_body(self, body: bytes) -> None:
        rate = self.fake.bytes_per_second
        for offset in range(0, len(body), _CHUNK):
            if offset and self.fake.gate is not None:
                self.fake.gate.wait()
            chunk = body[offset : offset + _CHUNK]
            try:
                self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return
            if rate:  # a slow Hub on purpose: the pacing is the scenario, not a wait
                time.sleep(len(chunk) / rate)

    def _json(self, payload: Any, commit: str) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# The repositories the ``hub`` fixture of tests/models holds: the real en->pt model at tag v1 of
# REPO (pt->en on main), and BROKEN_REPO for the fault tests.
REPO = "test-org/uts-en-xx"
BROKEN_REPO = "test-org/uts-broken"


def commit_of(hub: FakeHub, ref: str, repo: str = REPO) -> str:
    return hub.repos[repo].refs[ref]


def hub_env(tmp_path: Path, hub: FakeHub | None, **extra: str) -> dict[str, str]:
    """Environment for a node or CLI process: online against ``hub`` (offline when None), isolated caches."""
    env = {
        "HF_HOME": str(tmp_path / "hf-home"),
        "ADAPTER_DIR": str(tmp_path / "store"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "UDN_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    if hub is None:
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env.update(HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.url)
    env.update(extra)
    return env


def main() -> None:
    """Serve model directories until killed.

    ``python -m tests.support.fakehub --port P REPO=DIR[@REF] ...``
    """
    import argparse

    parser = argparse.ArgumentParser(description="a Hugging Face Hub stand-in serving model directories")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mb-per-s", type=float, default=None, help="limit each download to this speed")
    parser.add_argument("repos", nargs="+", help="org/name=DIRECTORY[@ref]")
    args = parser.parse_args()
    hub = FakeHub()
    for spec in args.repos:
        repo_id, _, rest = spec.partition("=")
        directory, _, ref = rest.partition("@")
        hub.add_model_dir(repo_id, Path(directory), refs=(ref or "main",))
    hub.bytes_per_second = args.mb_per_s * 1e6 if args.mb_per_s else None
    hub.start(args.port)
    print(f"serving {len(args.repos)} repositories at {hub.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
