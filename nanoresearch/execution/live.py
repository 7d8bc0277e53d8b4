"""What a running experiment shows while it runs: run started, the tail of its output
every few seconds, run finished (nanoresearch/progress.py's channel, so the CLI and the
page see it even when the run happens in an agent's process).

The backends that read the program's output on this machine (local, sandbox) read it
into the buffers `output_buffers()` hands them; `LiveOutput` watches those buffers from
a thread of the parent. Nothing here touches the program or its containment.
"""
from __future__ import annotations

import threading

from nanoresearch.execution.bubble import BoundedBuffer
from nanoresearch.progress import ProgressChannel
from nanoresearch.types import RunOutput

OUTPUT_EVERY_S = 3.0
TAIL_LINES, TAIL_CHARS = 20, 1500
_LIVE = threading.local()  # the run in progress in this thread (not on the executor: it is pickled)


def output_buffers() -> tuple[BoundedBuffer, BoundedBuffer]:
    """(stdout, stderr) buffers for the backend to read the program's output into: the
    live ones of the run in this thread, else fresh ones."""
    bufs = getattr(_LIVE, "buffers", None)
    return bufs if bufs is not None else (BoundedBuffer(), BoundedBuffer())


def newest_lines(buf: BoundedBuffer, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    whole = bytes(buf.head[-chars - 1:]) + bytes(buf.tail[-chars - 1:]) if buf.tail else bytes(buf.head[-chars - 1:])
    raw = whole[-chars:]
    if len(whole) > chars and b"\n" in raw:  # cut inside a line: start at the next whole one
        raw = raw[raw.index(b"\n") + 1:]
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    text = "\n".join(part.rsplit("\r", 1)[-1] for part in text.split("\n"))  # a progress bar's last state
    return "\n".join(text.rstrip("\n").split("\n")[-lines:])


class LiveOutput:
    """Reports the newest lines of each stream when they changed, every OUTPUT_EVERY_S and
    once more when the run ends."""

    def __init__(self, channel: ProgressChannel, run_id: str, attempt: int, every_s: float | None = None):
        self.channel, self.run_id, self.attempt = channel, run_id, attempt
        self.every_s = every_s or OUTPUT_EVERY_S
        self.buffers = (BoundedBuffer(), BoundedBuffer())
        self._sent = {"stdout": "", "stderr": ""}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"output-{run_id}", daemon=True)

    def __enter__(self) -> "LiveOutput":
        _LIVE.buffers = self.buffers
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        _LIVE.buffers = None
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()

    def flush(self) -> None:
        for stream, buf in zip(("stdout", "stderr"), self.buffers):
            text = newest_lines(buf)
            if text.strip() and text != self._sent[stream]:
                self._sent[stream] = text
                self.channel.report(RunOutput(run_id=self.run_id, attempt=self.attempt,
                                              stream=stream, tail=text))
