"""A minimal Language Server Protocol client that drives Red Hat's ``yaml-language-server``
over stdio, as an editor does: initialize, open a document, wait for its diagnostics, hover.

The server is the npm package, found in ``$FERBENCH_YAMLLS`` (a path to its
``bin/yaml-language-server`` or to a folder holding ``node_modules``), else in
``~/.cache/ferbench-ci/yamlls``, else on ``PATH``. :func:`find_server` says why not where
it is absent, so tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

CACHE = Path.home() / ".cache" / "ferbench-ci" / "yamlls"


def find_server() -> tuple[list[str] | None, str]:
    """The command that starts the server over stdio, or None and why it is absent."""
    node = shutil.which("node")
    if node is None:
        return None, "node is not installed (.ci/run installs it with yaml-language-server)"
    roots = [Path(p) for p in (os.environ.get("FERBENCH_YAMLLS"), str(CACHE)) if p]
    for root in roots:
        for cand in (root, root / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"):
            if cand.is_file():
                return [node, str(cand), "--stdio"], ""
    on_path = shutil.which("yaml-language-server")
    if on_path:
        return [on_path, "--stdio"], ""
    return None, f"yaml-language-server not found in $FERBENCH_YAMLLS, {CACHE} or PATH (.ci/run installs it with npm)"


class YamlLanguageServer:
    """One server process; ``diagnostics(path)`` and ``hover(path, line, col)`` (0-based)."""

    def __init__(self, cmd: list[str], root: Path, settings: dict[str, Any] | None = None) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.settings = {"yaml": {"validate": True, "hover": True, "completion": True, "schemaStore": {"enable": False}, **(settings or {})}}
        self._id = 0
        self._replies: dict[int, queue.Queue[Any]] = {}
        self._diags: dict[str, list[dict[str, Any]]] = {}
        self._diag_seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.resolve().as_uri(), "workspaceFolders": None,
            "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]},
                                              "publishDiagnostics": {}, "completion": {"completionItem": {"snippetSupport": True}}},
                             "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}}},
        })
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    # -- framing -------------------------------------------------------------------------
    def _send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            msg = json.loads(out.read(length))
            if "id" in msg and "method" in msg:  # a request from the server
                self._answer(msg)
            elif "id" in msg:
                self._replies.setdefault(msg["id"], queue.Queue()).put(msg)
            elif msg.get("method") == "textDocument/publishDiagnostics":
                with self._diag_seen:
                    self._diags[msg["params"]["uri"]] = msg["params"]["diagnostics"]
                    self._diag_seen.notify_all()

    def _answer(self, msg: dict[str, Any]) -> None:
        result: Any = None
        if msg["method"] == "workspace/configuration":
            result = [self.settings.get(item.get("section", ""), self.settings) if item.get("section") else self.settings
                      for item in msg["params"]["items"]]
        self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        self._id += 1
        rid = self._id
        box = self._replies.setdefault(rid, queue.Queue())
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        msg = box.get(timeout=timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    # -- what an editor does ----------------------------------------------------------------
    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        with self._diag_seen:
            self._diags.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def close(self, uri: str) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def diagnostics(self, path: Path, timeout: float = 30) -> list[dict[str, Any]]:
        """Open ``path`` and return the diagnostics the server publishes for it."""
        uri = self.open(path)
        end = time.monotonic() + timeout
        with self._diag_seen:
            while uri not in self._diags:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no diagnostics for {path} in {timeout}s")
                self._diag_seen.wait(left)
            out = self._diags[uri]
        self.close(uri)
        return out

    def hover(self, uri: str, line: int, col: int) -> str:
        res = self.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}})
        if not res:
            return ""
        contents = res["contents"]
        if isinstance(contents, dict):
            return str(contents.get("value", ""))
        if isinstance(contents, list):
            return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
        return str(contents)

    def shutdown(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a server that hangs on exit is killed
            self.proc.kill()
            self.proc.wait()
