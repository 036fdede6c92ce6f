"""The phone app at /m/: its page and the hashed bundle the page names, served from the committed mobile/dist."""

from __future__ import annotations

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
