"""A live status line on stderr for the `ssdref` commands' long steps (the 'progress' extra: tqdm).

    with status("conformance vs mxnet"):      # 'conformance vs mxnet: 12s' while it runs
        rows = run_backend(...)

Shown only once the step has run for `delay` seconds, so quick steps and argument errors keep their
one-line stderr. On a terminal with tqdm: a tqdm line counting the elapsed seconds, removed at the
end. Otherwise (no tqdm, or stderr not a terminal, as in logs and CI): one line, `<desc> ...`.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

DELAY = 2.0


def _tqdm_line(desc):
    """A tqdm line counting seconds on stderr, or None (no tqdm, or stderr not a terminal)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}", file=sys.stderr, leave=False)


@contextmanager
def status(desc: str, delay: float | None = None):
    """Show `desc` and the elapsed time on stderr while the block runs longer than `delay` seconds
    (default DELAY)."""
    delay = DELAY if delay is None else delay
    stop = threading.Event()

    def show():
        if stop.wait(delay):
            return
        bar = _tqdm_line(desc)
        if bar is None:
            print(f"{desc} ...", file=sys.stderr, flush=True)
            return
        bar.start_t -= delay            # count from the start of the step, not from the display
        while not stop.wait(0.5):
            bar.refresh()
        bar.close()

    worker = threading.Thread(target=show, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()
