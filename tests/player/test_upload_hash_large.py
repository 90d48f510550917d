"""The reviewer upload's SHA-256 above its WebCrypto threshold (512 MiB) goes through the
streaming implementation of player/js/sha256.js: checked in Chromium against hashlib on a real
(sparse) file just over the threshold (issue 13: it was untested)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PAGE = """<!DOCTYPE html><meta charset="utf-8"><input type="file" id="f">
<script type="module">
import { sha256File } from "./sha256.js";
window.hashPicked = async () => {
  const seen = [];
  const hex = await sha256File(document.getElementById("f").files[0], (p) => seen.push(p));
  return { hex, progress: seen.length, last: seen[seen.length - 1] };
};
window.ready = true;
</script>"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """player/js/sha256.js and a test page over http (module scripts do not load from file://)."""
    root = tmp_path_factory.mktemp("sha-page")
    shutil.copyfile(ROOT / "player/js/sha256.js", root / "sha256.js")
    (root / "index.html").write_text(PAGE, "utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()


@pytest.mark.slow
@pytest.mark.browser
def test_upload_hash_above_512_mib(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    big = tmp_path / "big.mp4"
    size = 512 * 1024 * 1024 + 8 * 1024 * 1024 + 77  # over the threshold, a partial last slice
    with open(big, "wb") as f:
        f.seek(size - 11)
        f.write(b"end-of-file")
    h = hashlib.sha256()
    with open(big, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page()
            page.goto(served)
            page.wait_for_function("window.ready === true")
            page.set_input_files("#f", str(big))
            result = page.evaluate("window.hashPicked()")
        finally:
            browser.close()
    assert result["hex"] == h.hexdigest()
    assert result["progress"] > 60 and result["last"] == 1  # sliced, not one WebCrypto call
