"""Article extraction on worker processes, so a batch uses every core.

Extraction is Python work that holds the GIL for most of a batch's time: threads
cannot share it out, processes can. Each worker is a plain child process
(``python -m mirror.capture.workers``) that imports the extractor once, while the
parent is still unlocking its key, and then extracts one page per request. A request
is the page's URL and the page, an answer is JSON, each length-prefixed, on the
worker's stdin and stdout. A worker parses hostile pages, so what it sends back is
data checked field by field, never a pickle: a worker subverted by a page cannot run
code in the process holding the signing keys, and it is started without the
passphrase in its environment.

A page's wait covers its extraction; past it the worker is killed and replaced and the
page fails with LimitExceeded. A worker that dies (crash, out of memory) has its page
retried once on a fresh worker, so only a page that kills that one too fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from mirror.capture.extract import Article, extract_article
from mirror.config import PASSPHRASE_ENV
from mirror.errors import (
    LimitExceeded,
    MirrorError,
    NetworkError,
    StorageError,
    UsageError,
    VerificationError,
)

__all__ = ["WORKER_COMMAND", "ExtractWorkers", "serve"]

# How a worker is started; tests point it at a worker running another target.
WORKER_COMMAND: tuple[str, ...] = (sys.executable, "-m", "mirror.capture.workers")
_FRAME = struct.Struct(">Q")
_MAX_FRAME = 256 * 1024 * 1024  # a 20 MiB page, escaped, and its article, with room
_EXIT_WAIT = 2.0
_TEXT_FIELDS = ("title", "content_html", "markdown")  # the Article fields never None
_SECRETS = (PASSPHRASE_ENV,)  # a worker never needs them
_ERRORS: dict[int, type[MirrorError]] = {
    e.exit_code: e
    for e in (MirrorError, UsageError, VerificationError, NetworkError, LimitExceeded, StorageError)
}
# A first page for the worker to extract before any request: every import and cache
# the extractor needs is loaded while the parent unlocks its key.
_WARM_UP = (
    "<html><head><title>warm-up</title></head><body><article><h1>warm-up</h1>"
    + "<p>A paragraph long enough to count as the text of an article, twice over.</p>" * 4
    + "</article></body></html>"
)


class _WorkerDied(Exception):
    """The worker's pipe closed or broke: it crashed or was killed."""


class _Nonsense(Exception):
    """The worker answered something no worker of ours sends: it is not trusted again."""


def _frame(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates survive the trip
    return _FRAME.pack(len(raw)) + raw


def _send(stream: BinaryIO, *frames: bytes) -> None:
    stream.write(b"".join(frames))
    stream.flush()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def _decode(raw: bytes) -> Any:
    return json.loads(_text(raw))


# -- the worker's side ---------------------------------------------------------------


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None  # the parent closed the pipe: time to go
    (size,) = _FRAME.unpack(head)
    if size > _MAX_FRAME:
        return None
    body = stream.read(size)
    return body if len(body) == size else None


def _read_request(stream: BinaryIO) -> tuple[str, str] | None:
    """A request is two frames: the page's URL, then the page itself (as it is: a
    page several megabytes long is not escaped into JSON and back)."""
    url = _read_frame(stream)
    page = _read_frame(stream) if url is not None else None
    return None if url is None or page is None else (_text(page), _text(url))


def _answer(target: Callable[[str, str], Article], html: str, url: str) -> dict[str, Any]:
    try:
        article = target(html, url)
    except MirrorError as e:
        return {"error": {"exit_code": e.exit_code, "reason": e.reason, "message": e.message}}
    except Exception as e:  # a bug on one page is that page's failure, as in-process
        first = (str(e).splitlines() or [""])[0][:200]
        message = f"internal error ({type(e).__name__}: {first})"
        return {"error": {"exit_code": 1, "reason": "internal", "message": message}}
    return {"article": dataclasses.asdict(article)}


def serve(target: Callable[[str, str], Article] = extract_article) -> None:
    """A worker's life: extract every request from stdin until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us by closing stdin
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints can corrupt a frame
    with contextlib.suppress(MirrorError):
        target(_WARM_UP, "http://warm-up.invalid/")
    trim = _malloc_trim()
    while (request := _read_request(requests)) is not None:
        answer = json.dumps(_answer(target, *request), ensure_ascii=False, separators=(",", ":"))
        del request
        _send(answers, _frame(answer))
        trim(0)


def _malloc_trim() -> Callable[[int], object]:
    """glibc's malloc_trim, or a no-op elsewhere. A page's parse trees are freed into
    malloc's arenas, which glibc keeps; handing them back after each page keeps a
    worker near its 40 MB start instead of its largest page's size."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return lambda _pad: None


# -- the parent's side ---------------------------------------------------------------


class _Worker:
    def __init__(self, command: Sequence[str]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # errors come back as answers; crashes as EOF
            env=env,
            process_group=0,  # a Ctrl-C at the terminal is the parent's to handle
        )

    def ask(self, request: tuple[bytes, bytes], deadline: float) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _send(self.proc.stdin, *request)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            raise _WorkerDied from None
        fd = self.proc.stdout.fileno()
        (size,) = _FRAME.unpack(self._read(fd, _FRAME.size, deadline))
        if size > _MAX_FRAME:
            raise _Nonsense
        try:
            return _decode(self._read(fd, size, deadline))
        except ValueError:  # not UTF-8, not JSON
            raise _Nonsense from None

    @staticmethod
    def _read(fd: int, size: int, deadline: float) -> bytes:
        got = bytearray()
        while len(got) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(size - len(got), 1 << 20))
            if not chunk:
                raise _WorkerDied
            got += chunk
        return bytes(got)

    def hang_up(self) -> None:
        """Close its requests: an idle worker exits."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def end(self, *, wait: float = 0.0) -> None:
        """Hang up, then kill it if it is still there after ``wait`` seconds."""
        self.hang_up()
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _article(reply: Any) -> Article:
    """The worker's answer as an Article or its error, every field checked."""
    if isinstance(reply, dict) and isinstance(error := reply.get("error"), dict):
        code, message = error.get("exit_code"), error.get("message")
        if isinstance(code, int) and isinstance(message, str) and code in _ERRORS:
            reason = error.get("reason")
            raise _ERRORS[code](message, reason=reason if isinstance(reason, str) else None)
    fields = reply.get("article") if isinstance(reply, dict) else None
    if isinstance(fields, dict) and set(fields) == {f.name for f in dataclasses.fields(Article)}:
        authors = fields["authors"]
        texts = [fields[k] for k in _TEXT_FIELDS]
        optional = [v for k, v in fields.items() if k not in (*_TEXT_FIELDS, "authors")]
        if (
            isinstance(authors, list)
            and all(isinstance(a, str) for a in authors)
            and all(isinstance(t, str) for t in texts)
            and all(v is None or isinstance(v, str) for v in optional)
        ):
            return Article(**{**fields, "authors": tuple(authors)})
    raise _Nonsense


class ExtractWorkers:
    """``count`` worker processes, as an ``Extract`` callable for capture_url.

    Workers start at once (their imports overlap whatever the caller does next) and
    serve one page at a time each; a caller waits for a free one. Use as a context
    manager, or call ``close``.
    """

    def __init__(self, count: int, command: Sequence[str] | None = None) -> None:
        self._command = tuple(command or WORKER_COMMAND)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._live: set[_Worker] = set()
        self._closed = False
        for _ in range(count):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        with self._lock:
            if self._closed:  # a page still finishing after close(): no new process
                raise MirrorError("the capture was stopped before this page was extracted")
            worker = _Worker(self._command)
            self._live.add(worker)
        return worker

    @property
    def pids(self) -> tuple[int, ...]:
        """The worker processes running now."""
        with self._lock:
            return tuple(w.proc.pid for w in self._live)

    def _replace(self, worker: _Worker) -> _Worker:
        """A fresh worker for one that died, hung or lied (ended now)."""
        worker.end()
        with self._lock:
            self._live.discard(worker)
        return self._start()

    def __call__(self, text: str, url: str, timeout: float) -> Article:
        deadline = time.monotonic() + timeout
        try:
            worker = self._idle.get(timeout=timeout)
        except queue.Empty:
            raise self._late(url, timeout) from None
        request = (_frame(url), _frame(text))
        for attempt in (1, 2):
            try:
                article = _article(worker.ask(request, deadline))
            except TimeoutError:
                self._idle.put(self._replace(worker))
                raise self._late(url, timeout) from None
            except _WorkerDied:
                worker = self._replace(worker)
                if attempt == 1:
                    continue  # once more, on a fresh worker
                self._idle.put(worker)
                raise MirrorError(
                    f"extracting the article of {url} ended its process "
                    "(a crash or out of memory); the page was not captured"
                ) from None
            except _Nonsense:
                self._idle.put(self._replace(worker))
                raise MirrorError(
                    f"extracting the article of {url}: its worker process answered "
                    "nonsense and was ended; the page was not captured"
                ) from None
            except MirrorError:  # the page's own failure (no article text...)
                self._idle.put(worker)
                raise
            self._idle.put(worker)
            return article
        raise AssertionError("unreachable")

    @staticmethod
    def _late(url: str, timeout: float) -> LimitExceeded:
        return LimitExceeded(f"extracting the article of {url} took longer than {timeout:.0f} s")

    def close(self) -> None:
        """End every worker: idle ones exit on their closed pipe, busy ones are killed."""
        with self._lock:
            workers, self._live, self._closed = list(self._live), set(), True
        for worker in workers:
            worker.hang_up()
        for worker in workers:
            worker.end(wait=_EXIT_WAIT)

    def __enter__(self) -> ExtractWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()
    # every answer is flushed and nothing else is held open: the interpreter's teardown
    # of a heap of parse trees and modules would only keep the batch waiting
    os._exit(0)
