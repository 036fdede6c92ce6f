"""The phone app at /m/: its page and the hashed bundle the page names, served from the committed mobile/dist."""

from __future__ import annotations

import gzip
import json
import re

ASSET = re.compile(r"""(?:src|href)="(/m/assets/[^"]+)\"""")
ANY_URL = re.compile(r"""(?:src|href)="([^"]+)\"""")


def test_the_page_is_the_app_and_never_cached(client):
    response = client.get("/m/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<div id="app">' in html
    assert "<title>乡治</title>" in html
    assert response.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_any_path_under_m_answers_the_same_page(client):
    """Screens are hash routes; an old link or a path typed by hand still opens the app."""
    assert client.get("/m/shop").get_data() == client.get("/m/").get_data()
    assert client.get("/m").status_code == 308


def test_the_assets_the_page_names_are_served_and_cached_for_a_year(client):
    html = client.get("/m/").get_data(as_text=True)
    assets = ASSET.findall(html)
    assert {path.rsplit(".", 1)[1] for path in assets} == {"js", "css"}, assets
    for path in assets:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype in {"text/javascript", "text/css"}
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/m/assets/missing.js").status_code == 404


def test_the_page_loads_nothing_from_elsewhere(client):
    """No CDN: every script, style and icon is ours (a data: URI is inline)."""
    html = client.get("/m/").get_data(as_text=True)
    urls = ANY_URL.findall(html)
    assert urls
    assert all(url.startswith("/m/") or url.startswith("data:") for url in urls), urls


def test_text_files_go_gzipped_to_a_browser_that_takes_gzip(client):
    """The build writes a .gz twin of each text file: a village network carries a third of the bytes."""
    html = client.get("/m/").get_data(as_text=True)
    for path in ["/m/", "/m/sw.js", *ASSET.findall(html)]:
        plain = client.get(path)
        zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert "Content-Encoding" not in plain.headers, path
        assert zipped.headers["Content-Encoding"] == "gzip", path
        assert zipped.mimetype == plain.mimetype, path
        assert gzip.decompress(zipped.get_data()) == plain.get_data(), path
        assert len(zipped.get_data()) < len(plain.get_data()), path
        assert "Accept-Encoding" in zipped.headers["Vary"], path


def test_the_service_worker_is_served_for_the_whole_app_never_cached_and_keeps_every_file_the_page_names(client):
    """Served at /m/sw.js its scope is /m/ (the app); never cached, so a release reaches phones on their next
    start; it keeps the page and the files it names, so the app opens with no network."""
    response = client.get("/m/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    kept = json.loads(re.search(r"const PRECACHE = (\[.*?\])", response.get_data(as_text=True)).group(1))
    html = client.get("/m/").get_data(as_text=True)
    assert {"/m/", *ASSET.findall(html)} <= set(kept)
    assert all(client.get(path).status_code == 200 for path in kept)
