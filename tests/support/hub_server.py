"""A small Hugging Face Hub-compatible HTTP server for tests.

`HubServer` runs a real HTTP server (``http.server.ThreadingHTTPServer``) on 127.0.0.1 in a background thread and
speaks the subset of the Hub protocol that the real ``huggingface_hub`` client (2.x) uses to create repos, commit
files and download them. Point the client at it with ``HF_ENDPOINT`` (see ``tests/support/hub_fixtures.py``); nothing in
the client is mocked. State lives in memory. Routes (``{type}``: models/datasets/spaces, ``{repo}``: ns/name):

    GET  /api/whoami-v2                              identity of the bearer token
    POST /api/repos/create                           409 + {"url"} if it exists (for create_repo(exist_ok=True))
    POST /api/validate-yaml                          README.md front matter: always valid
    GET  /api/{type}/{repo}[/revision/{rev}]         repo info: sha, siblings, ...
    GET  /api/{type}/{repo}/tree/{rev}[/{path}]      file listing (?recursive=true), used by snapshot_download
    POST /api/{type}/{repo}/preupload/{rev}          "lfs" for big, binary or LFS-extension files, else "regular"
    POST /api/{type}/{repo}/commit/{rev}             NDJSON: header, file, lfsFile, deletedFile, deletedFolder
    POST /[{type}/]{repo}.git/info/lfs/objects/batch git-lfs batch API, "basic" transfer, upload + verify actions
    POST /[{type}/]{repo}.git/info/lfs/objects/verify
    PUT  /lfs-upload/{sha256}                        the upload action's (presigned-like, no auth) target
    HEAD|GET /[{type}/]{repo}/resolve/{rev}/{path}   X-Repo-Commit, ETag, X-Linked-Etag/-Size for LFS files;
                                                     404s carry X-Error-Code (RepoNotFound, EntryNotFound, ...)

Write calls need ``Authorization: Bearer hf_...``; private repos are 404 RepoNotFound without it. Every request is
appended to ``HubServer.requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_EXTENSIONS = (
    ".h5",
    ".keras",
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".onnx",
    ".npy",
    ".npz",
    ".msgpack",
    ".pkl",
    ".pickle",
    ".zip",
    ".tar",
    ".gz",
    ".png",
    ".jpg",
)
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
SINGULAR = {"models": "model", "datasets": "dataset", "spaces": "space"}
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_API = r"/api/(?P<repo_type>models|datasets|spaces)/" + _REPO
_GIT = r"/(?:(?P<repo_type>datasets|spaces)/)?" + _REPO
DEFAULT_GITATTRIBUTES = b"".join(f"*{ext} filter=lfs diff=lfs merge=lfs -text\n".encode() for ext in LFS_EXTENSIONS)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob with this content (what the Hub uses as the ETag of regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:  # the git-lfs pointer file that git stores in place of an LFS file
        spec = "version https://git-lfs.github.com/spec/v1"
        return f"{spec}\noid sha256:{self.sha256}\nsize {len(self.content)}\n".encode()

    @property
    def oid(self) -> str:  # git blob id, as listed in the tree
        return git_blob_oid(self.pointer if self.lfs else self.content)

    def tree_entry(self, path: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": self.oid, "size": len(self.content), "path": path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.content), "pointerSize": len(self.pointer)}
        return entry


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, StoredFile]
    date: str = field(default_factory=_now)


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # includes the query string
    headers: dict[str, str]  # names lower-cased


class HubError(Exception):
    """An error answered as the Hub does: JSON ``{"error": ...}`` plus ``X-Error-Code``/``X-Error-Message``."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


Response = tuple[int, dict[str, str], bytes]


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


class HubServer:
    """In-memory Hub on ``http://127.0.0.1:<free port>``; use as a context manager or call start()/stop().

    Files whose size is >= ``lfs_threshold`` bytes, whose name ends with one of ``lfs_extensions`` or whose
    first bytes contain a NUL byte are stored with LFS (preupload answers "lfs"); others are "regular".
    """

    def __init__(
        self,
        *,
        username: str = "user",
        lfs_threshold: int = 1_000_000,
        lfs_extensions: tuple[str, ...] = LFS_EXTENSIONS,
        token_prefix: str = "hf_",
    ) -> None:
        self.username, self.lfs_threshold, self.lfs_extensions = username, lfs_threshold, lfs_extensions
        self.token_prefix = token_prefix
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of unexpected server errors (answered with HTTP 500)
        self._repos: dict[tuple[str, str], Repo] = {}
        self._lfs_objects: dict[str, bytes] = {}  # sha256 -> content
        self._lock = threading.RLock()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            (m, re.compile(p), f)
            for m, p, f in [
                ("GET", r"/api/whoami-v2", self._whoami),
                ("POST", r"/api/repos/create", self._create_repo),
                ("POST", r"/api/validate-yaml", lambda **_: _json({"errors": [], "warnings": []})),
                ("GET", _API + r"(?:/revision/(?P<rev>[^/]+))?", self._repo_info),
                ("GET", _API + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", self._tree),
                ("POST", _API + r"/preupload/(?P<rev>[^/]+)", self._preupload),
                ("POST", _API + r"/commit/(?P<rev>[^/]+)", self._commit),
                ("POST", _GIT + r"\.git/info/lfs/objects/batch", self._lfs_batch),
                ("POST", _GIT + r"\.git/info/lfs/objects/verify", self._lfs_verify),
                ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_upload),
                ("GET|HEAD", _GIT + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve),
            ]
        ]

    # ----------------------------------------------------------------------------------------------- lifecycle
    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> HubServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="hub-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------- inspection helpers
    def repo_files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Content of every file of the repo at `revision` (branch or commit id)."""
        with self._lock:
            commit = self._resolve_revision(self._get_repo(repo_type, repo_id, None), revision)
            return {path: f.content for path, f in commit.files.items()}

    def lfs_paths(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> set[str]:
        """Paths of the files stored with LFS at `revision`."""
        with self._lock:
            commit = self._resolve_revision(self._get_repo(repo_type, repo_id, None), revision)
            return {path for path, f in commit.files.items() if f.lfs}

    def commit_history(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[str]:
        """Commit ids reachable from `revision`, newest first (the last one is the repo-creation commit)."""
        with self._lock:
            repo = self._get_repo(repo_type, repo_id, None)
            history = [self._resolve_revision(repo, revision)]
            while history[-1].parent:
                history.append(repo.commits[history[-1].parent])
            return [commit.oid for commit in history]

    # ------------------------------------------------------------------------------------------------ dispatch
    def handle(self, method: str, raw_path: str, headers: Message, body: bytes) -> Response:
        url = urlsplit(raw_path)
        self.requests.append(RecordedRequest(method, raw_path, {k.lower(): v for k, v in headers.items()}))
        for route_method, pattern, func in self._routes:
            match = pattern.fullmatch(url.path)
            if match and method in route_method.split("|"):
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                if "repo_type" in params:
                    params["repo_type"] = SINGULAR[params["repo_type"]]
                try:
                    with self._lock:
                        return func(headers=headers, body=body, query=parse_qs(url.query), **params)
                except HubError as e:
                    error_headers = {"X-Error-Message": str(e), **e.headers}
                    if e.code:
                        error_headers["X-Error-Code"] = e.code
                    return _json({"error": str(e)}, e.status, error_headers)
                except Exception:
                    self.errors.append(traceback.format_exc())
                    print(self.errors[-1], file=sys.stderr)
                    return _json({"error": "Internal test-server error"}, 500)
        return _json({"error": f"Sorry, we can't find the page you are looking for ({method} {url.path})"}, 404)

    # --------------------------------------------------------------------------------------------- internals
    def _authorized(self, headers: Message) -> bool:
        return (headers.get("Authorization") or "").startswith(f"Bearer {self.token_prefix}")

    def _require_auth(self, headers: Message) -> None:
        if not self._authorized(headers):
            raise HubError(401, "Invalid credentials in Authorization header")

    def _get_repo(self, repo_type: str, repo_id: str, headers: Message | None) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and headers is not None and not self._authorized(headers)):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _resolve_revision(self, repo: Repo, revision: str) -> Commit:
        oid = repo.refs.get(revision)
        if oid is None and re.fullmatch(r"[0-9a-f]{7,40}", revision):
            oid = next((c for c in repo.commits if c.startswith(revision)), None)
        if oid is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo.commits[oid]

    def _new_commit(self, repo: Repo, branch: str, message: str, files: dict[str, StoredFile]) -> Commit:
        self._counter += 1
        parent = repo.refs.get(branch)
        seed = json.dumps([parent, message, sorted((p, f.oid) for p, f in files.items()), self._counter, time.time()])
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), parent, message, files)
        repo.commits[commit.oid] = commit
        repo.refs[branch] = commit.oid
        return commit

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"

    def _is_lfs(self, path: str, size: int, sample: bytes) -> bool:
        return size >= self.lfs_threshold or path.lower().endswith(self.lfs_extensions) or b"\0" in sample

    # ------------------------------------------------------------------------------------------------- routes
    def _whoami(self, headers: Message, **_: Any) -> Response:
        self._require_auth(headers)
        return _json(
            {
                "type": "user",
                "id": "0" * 24,
                "name": self.username,
                "fullname": "Test User",
                "email": None,
                "emailVerified": False,
                "isPro": False,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
            }
        )

    def _create_repo(self, headers: Message, body: bytes, **_: Any) -> Response:
        self._require_auth(headers)
        payload = json.loads(body)
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.username}/{payload['name']}"
        url = self._repo_url(repo_type, repo_id)
        if (repo_type, repo_id) in self._repos:
            return _json({"error": "You already created this repo", "url": url}, 409)
        private = payload.get("visibility", "public") != "public" or bool(payload.get("private"))
        repo = Repo(repo_type, repo_id, private=private)
        self._repos[(repo_type, repo_id)] = repo
        self._new_commit(repo, "main", "initial commit", {".gitattributes": StoredFile(DEFAULT_GITATTRIBUTES, False)})
        return _json({"url": url, "name": repo_id, "id": repo_id})

    def _repo_info(self, headers: Message, repo_type: str, repo: str, rev: str = "main", **_: Any) -> Response:
        r = self._get_repo(repo_type, repo, headers)
        commit = self._resolve_revision(r, rev)
        siblings = [
            {
                "rfilename": p,
                "size": len(f.content),
                "blobId": f.oid,
                **(
                    {"lfs": {"sha256": f.sha256, "size": len(f.content), "pointerSize": len(f.pointer)}}
                    if f.lfs
                    else {}
                ),
            }
            for p, f in sorted(commit.files.items())
        ]
        return _json(
            {
                "id": repo,
                "author": repo.split("/")[0],
                "sha": commit.oid,
                "lastModified": commit.date,
                "createdAt": r.created_at,
                "private": r.private,
                "disabled": False,
                "gated": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
                "usedStorage": sum(len(f.content) for f in commit.files.values()),
            }
        )

    def _tree(
        self,
        headers: Message,
        query: dict[str, list[str]],
        repo_type: str,
        repo: str,
        rev: str,
        path: str = "",
        **_: Any,
    ) -> Response:
        commit = self._resolve_revision(self._get_repo(repo_type, repo, headers), rev)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        folders: set[str] = set()
        files = []
        for file_path, f in sorted(commit.files.items()):
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                files.append(f.tree_entry(file_path))
        if prefix and not files and not folders:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        dirs = [
            {"type": "directory", "oid": git_blob_oid(f"{commit.oid}:{d}".encode()), "size": 0, "path": d}
            for d in sorted(folders)
        ]
        return _json(dirs + files)

    def _preupload(self, headers: Message, body: bytes, repo_type: str, repo: str, rev: str, **_: Any) -> Response:
        self._require_auth(headers)
        commit = self._resolve_revision(self._get_repo(repo_type, repo, headers), rev)
        answer = []
        for f in json.loads(body)["files"]:
            existing = commit.files.get(f["path"])
            lfs = self._is_lfs(f["path"], f["size"], base64.b64decode(f["sample"]))
            answer.append(
                {
                    "path": f["path"],
                    "shouldIgnore": False,
                    "uploadMode": "lfs" if lfs else "regular",
                    "oid": None if existing is None else (existing.sha256 if existing.lfs else existing.oid),
                }
            )
        return _json({"files": answer, "commitOid": commit.oid})

    def _commit(
        self, headers: Message, body: bytes, query: dict[str, list[str]], repo_type: str, repo: str, rev: str, **_: Any
    ) -> Response:
        self._require_auth(headers)
        r = self._get_repo(repo_type, repo, headers)
        if query.get("create_pr", ["0"])[0] == "1":
            raise HubError(400, "Pull requests are not supported by the test Hub server")
        if rev not in r.refs:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"] if lines and lines[0]["key"] == "header" else {}
        parent = r.commits[r.refs[rev]]
        if header.get("parentCommit") and not parent.oid.startswith(header["parentCommit"]):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(parent.files)
        for item in lines[1:]:
            key, value = item["key"], item["value"]
            if key == "file":
                content = base64.b64decode(value["content"])
                if len(content) > max(self.lfs_threshold, 10 * 2**20):
                    raise HubError(400, f"{value['path']} is too large for a regular file: use LFS")
                files[value["path"]] = StoredFile(content, lfs=False)
            elif key == "lfsFile":
                if value["oid"] not in self._lfs_objects:
                    raise HubError(422, f"LFS object {value['oid']} ({value['path']}) was not uploaded")
                files[value["path"]] = StoredFile(self._lfs_objects[value["oid"]], lfs=True)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                if not any(p.startswith(folder) for p in files):
                    raise HubError(404, f"A folder with this name doesn't exist: {value['path']}", "EntryNotFound")
                files = {p: f for p, f in files.items() if not p.startswith(folder)}
            else:
                raise HubError(400, f"Unsupported commit operation: {key}")
        message = (header.get("summary") or "") + ("\n\n" + header["description"] if header.get("description") else "")
        commit = self._new_commit(r, rev, message, files)
        return _json(
            {
                "success": True,
                "commitOid": commit.oid,
                "hookOutput": "",
                "commitUrl": f"{self._repo_url(repo_type, repo)}/commit/{commit.oid}",
            }
        )

    def _lfs_batch(self, headers: Message, body: bytes, repo: str, repo_type: str = "model", **_: Any) -> Response:
        self._require_auth(headers)
        self._get_repo(repo_type, repo, headers)
        payload = json.loads(body)
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(400, "Only 'upload' operations with the 'basic' transfer are supported")
        objects = []
        for obj in payload["objects"]:
            answer: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self._lfs_objects:  # otherwise: already there, nothing to upload
                answer["actions"] = {
                    "upload": {"href": f"{self.endpoint}/lfs-upload/{obj['oid']}", "expires_in": 3600},
                    "verify": {"href": f"{self._repo_url(repo_type, repo)}.git/info/lfs/objects/verify"},
                }
            objects.append(answer)
        return _json(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            headers={"Content-Type": "application/vnd.git-lfs+json"},
        )

    def _lfs_upload(self, body: bytes, oid: str, **_: Any) -> Response:
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "Uploaded content does not match its sha256")
        self._lfs_objects[oid] = body
        return 200, {}, b""

    def _lfs_verify(self, headers: Message, body: bytes, repo: str, repo_type: str = "model", **_: Any) -> Response:
        self._require_auth(headers)
        self._get_repo(repo_type, repo, headers)
        obj = json.loads(body)
        if len(self._lfs_objects.get(obj["oid"], b"")) != obj["size"]:
            raise HubError(404, f"LFS object {obj['oid']} not found")
        return _json({"message": "Object verified"})

    def _resolve(
        self, headers: Message, repo: str, rev: str, path: str, repo_type: str = "model", **_: Any
    ) -> Response:
        commit = self._resolve_revision(self._get_repo(repo_type, repo, headers), rev)
        f = commit.files.get(path)
        if f is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        out = {
            "X-Repo-Commit": commit.oid,
            "Content-Type": "application/octet-stream",
            "ETag": f'"{f.sha256 if f.lfs else f.oid}"',
        }  # the client names cache blobs after the ETag
        if f.lfs:
            out.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.content))})
        return 200, out, f.content


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 60  # idle keep-alive connections are dropped after this many seconds

    def _dispatch(self) -> None:
        body = self._read_body()  # always consume the body to keep the connection in sync
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        status, headers, payload = hub.handle(self.command, self.path, self.headers, body)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:  # the client always sends Content-Length (no chunked uploads)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr access log
        pass
