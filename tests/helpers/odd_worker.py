"""An extraction worker whose target misbehaves on marked pages (for the worker tests):
run as ``python -m tests.helpers.odd_worker``."""

from __future__ import annotations

import json
import os
import sys
import time

from mirror.capture import workers
from mirror.capture.extract import Article, extract_article


def misbehave(html: str, url: str) -> Article:
    """Ends the process on /crash/, sleeps on /hang/, answers nonsense on /liar/."""
    if "/crash/" in url:
        os._exit(70)
    if "/hang/" in url:
        time.sleep(600)
    if "/liar/" in url:  # what a worker subverted by its page could send
        lie = json.dumps({"article": {"title": ["not", "text"]}}).encode()
        sys.__stdout__.buffer.write(len(lie).to_bytes(8, "big") + lie)
        sys.__stdout__.buffer.flush()
        time.sleep(600)
    return extract_article(html, url)


if __name__ == "__main__":
    workers.serve(misbehave)
