"""Parsing in a separate process, with a time limit (issue 12, finding 5).

The parser libraries (pypdf, python-docx/lxml, BeautifulSoup) run in a worker process started with
``spawn``, never in the server: a PDF stream bomb or a pathological DOCX/HTML that would take
minutes of CPU (or gigabytes of memory) costs the server nothing but a wait in a thread. A parse
that takes longer than its limit is ended by killing the worker (``ParseTimeout``); a worker that
dies (out of memory, a crash in a C extension) is ``ParseCrashed``. Either way nothing was returned,
so nothing is stored.

Workers are reused (starting one imports the parsers, about a second): a finished worker goes back
to a small idle pool, a killed one is replaced by a fresh one on the next parse. The time limit
counts from the moment a ready worker has the job, so start-up is not charged to the document.
As with any ``spawn`` worker, a script that ingests must keep its top level under
``if __name__ == "__main__":`` (the worker imports the main module; ``qdbot`` and ``python -m bot``
are safe).
"""
from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

START_SECONDS = 120.0  # a worker that cannot import the parsers within this is broken
IDLE_WORKERS = 2  # kept ready between parses; more are started while parses overlap


class ParseTimeout(Exception):
    """The parse took longer than its limit; the worker was killed."""


class ParseCrashed(Exception):
    """The worker died during the parse (memory, a crash in a parser's C code)."""


def _serve(conn: Connection) -> None:  # the worker process's main function
    from knowledge import parsers

    parsers.preload_parsers()
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(parsers.parse_in_worker(*job))


class _Worker:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), name="qdbot-parse", daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(START_SECONDS) or self.conn.recv() != "ready":
            self.kill()
            raise ParseCrashed("the parse worker did not start")

    def run(self, job: tuple[Any, ...], timeout: float) -> Any:
        try:
            self.conn.send(job)
            if not self.conn.poll(timeout):
                self.kill()
                raise ParseTimeout(timeout)
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise ParseCrashed(f"the parse worker died (exit code {self.process.exitcode})") from exc

    def kill(self) -> None:
        self.process.kill()
        self.process.join(10)
        self.conn.close()


_idle: list[_Worker] = []
_lock = threading.Lock()


def run(job: tuple[Any, ...], timeout: float) -> Any:
    """``parsers.parse_in_worker(*job)`` in a worker process; ParseTimeout after ``timeout`` seconds,
    ParseCrashed when the worker dies."""
    with _lock:
        worker = _idle.pop() if _idle else None
    if worker is not None and not worker.process.is_alive():
        worker.kill()
        worker = None
    worker = worker or _Worker()
    result = worker.run(job, timeout)  # a worker that failed is killed, never given back
    with _lock:
        if len(_idle) < IDLE_WORKERS:
            _idle.append(worker)
            return result
    worker.kill()
    return result


def shutdown() -> None:
    """Stop the idle workers (they are daemons: they also end with the server)."""
    with _lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.kill()
