"""Several local workers: one ``ferbench worker`` process per device slot, all on one study.

``ferbench run`` starts the workers, each seeing only its own GPU through
``CUDA_VISIBLE_DEVICES`` (none for a ``cpu`` slot), and supervises them: it
forwards their log lines, polls the study for the progress view and
``run.json``, passes Ctrl-C and SIGTERM on, and returns when every worker has
stopped. A worker that dies does not stop the others: its trial is found dead
(owner locks on a journal file, heartbeats on a database) and re-run by one of
them. The storage URL reaches the workers through the environment, never on a
command line, and every line they print is redacted.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ferbench.devices import cuda_visible_devices
from ferbench.run.progress import Reporter
from ferbench.run.search import accounting as st
from ferbench.secrets import redact

if TYPE_CHECKING:
    import optuna

    from ferbench.spec.types import Spec

#: How long stopped workers get to re-queue their trials before they are killed.
STOP_GRACE_S = 60.0
POLL_S = 1.0


@dataclass
class Child:
    """One worker process of the pool."""

    index: int
    slot: str  # "cpu" or "gpu:N"
    proc: subprocess.Popen[str]
    stderr_tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=8))
    threads: list[threading.Thread] = field(default_factory=list)
    reported: bool = False

    @property
    def name(self) -> str:
        return f"w{self.index}"


def child_env(slot: str, url: str) -> dict[str, str]:
    """A worker's environment: only its device visible, the storage URL out of the process list."""
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices(slot)
    env["FERBENCH_STORAGE"] = url
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_command(folder: Path, index: int, slot: str, timeout_s: float | None) -> list[str]:
    """A worker process of the run in ``folder``: it reads the folder's resolved spec, never the user's file."""
    cmd = [sys.executable, "-m", "ferbench", "worker", str(Path(folder).resolve()),
           "--index", str(index), "--slot", "cpu" if slot == "cpu" else "gpu", "--managed", "--parent-pid", str(os.getpid())]
    if timeout_s is not None:
        cmd += ["--timeout-s", f"{timeout_s:.3f}"]
    return cmd


def _pump(stream: IO[str], sink: Callable[[str], None]) -> None:
    for line in iter(stream.readline, ""):
        sink(line)
    stream.close()


class Pool:
    """The worker processes of one planned run."""

    def __init__(self, folder: Path, slots: Sequence[str], url: str, reporter: Reporter, timeout_s: float | None = None):
        self.folder, self.slots, self.url = folder, tuple(slots), url
        self.reporter = reporter
        self.timeout_s = timeout_s
        self.children: list[Child] = []
        self._lock = threading.Lock()

    def _say(self, line: str) -> None:
        with self._lock:
            self.reporter.worker_line(redact(line, self.url))

    def start(self) -> None:
        for i, slot in enumerate(self.slots):
            proc = subprocess.Popen(worker_command(self.folder, i, slot, self.timeout_s),
                                    env=child_env(slot, self.url), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
            child = Child(i, slot, proc)
            out = threading.Thread(target=_pump, args=(proc.stdout, self._say), daemon=True)
            err = threading.Thread(target=_pump, args=(proc.stderr, lambda line, c=child: c.stderr_tail.append(redact(line, self.url).rstrip())),
                                   daemon=True)
            child.threads = [out, err]
            for t in child.threads:
                t.start()
            self.children.append(child)
            with self._lock:
                self.reporter.message(f"worker {child.name} started on {slot} (pid {proc.pid})")

    def alive(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is None]

    def reap(self) -> None:
        """Say once how each stopped worker ended; a dead worker's trial is re-run by the others."""
        for c in self.children:
            rc = c.proc.poll()
            if rc is None or c.reported:
                continue
            c.reported = True
            for t in c.threads:
                t.join(timeout=5)
            if rc == 0:
                continue
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            others = "; the other workers go on and re-run its trial" if self.alive() else ""
            tail = [line for line in c.stderr_tail if line.strip()][-3:]
            with self._lock:
                self.reporter.message(f"worker {c.name} ({c.slot}, pid {c.proc.pid}) {how}{others}")
                for line in tail:
                    self.reporter.message(f"worker {c.name}: {line}")

    def stop(self) -> None:
        """Ctrl-C or SIGTERM: let every worker re-queue its trial and stop; kill the ones that do not."""
        for c in self.alive():
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for c in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        for c in self.alive():
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()
            c.proc.wait()
        for c in self.children:
            c.reported = True

    def exited_cleanly(self) -> bool:
        return any(c.proc.returncode in (0, 1) for c in self.children)


def supervise(pool: Pool, study: optuna.Study, spec: Spec,
              on_change: Callable[[st.Counts, tuple[int, float] | None], None]) -> st.Counts:
    """Run the pool until every worker has stopped; keep ``run.json`` and the progress view up to date."""
    pool.start()
    try:
        while True:
            alive = pool.alive()
            pool.reap()
            c = st.counts(study, spec.search.trials)
            best = st.best_of(study, spec)
            on_change(c, best)
            with pool._lock:
                pool.reporter.study_progress(c.finished, c.running, best)
            if not alive:
                return c
            time.sleep(POLL_S)
    except BaseException:
        pool.stop()
        raise
