"""The VGG16 weights download, against a real HTTP server on loopback (no network needed)."""

from __future__ import annotations

import http.server
import threading
from functools import partial

import pytest
import torch

from vidseek.errors import ModelError
from vidseek.features.backbones import VGG16_FILE, Backbone, _vgg16_weights


@pytest.fixture()
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_into_a_fresh_cache_then_load(http_root, tmp_path, monkeypatch):
    root, url = http_root
    state = {"features.0.weight": torch.zeros(2, 3, 3, 3)}  # small: the file, not the network, is under test
    torch.save(state, root / "vgg16.pth")
    hub = tmp_path / "no-such-dir" / "hub"  # the checkpoints folder does not exist yet
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setenv("VIDSEEK_VGG16_URL", f"{url}/vgg16.pth")
    monkeypatch.delenv("VIDSEEK_OFFLINE", raising=False)
    path = _vgg16_weights(None)
    assert path == hub / "checkpoints" / VGG16_FILE and path.read_bytes() == (root / "vgg16.pth").read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [VGG16_FILE]  # no temporary left
    with pytest.raises(ModelError, match="weights do not fit vgg16"):
        Backbone("vgg16", device="cpu")  # found in the cache now; a partial state dict is refused clearly


def test_failed_download_says_what_to_fetch_and_leaves_nothing(http_root, tmp_path, monkeypatch):
    _, url = http_root
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setenv("VIDSEEK_VGG16_URL", f"{url}/missing.pth")
    monkeypatch.delenv("VIDSEEK_OFFLINE", raising=False)
    with pytest.raises(ModelError, match=f"download {url}/missing.pth and put it at {hub}/checkpoints/{VGG16_FILE}"):
        _vgg16_weights(None)
    assert not any((hub / "checkpoints").iterdir())
