"""The API documents itself: OpenAPI JSON, and a Swagger UI page that loads only vendored assets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

BASE = "/api/mp/v1"
SRC_OR_HREF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.IGNORECASE)


def test_openapi_json_lists_the_api(client):
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/auth/login", "/auth/bind", "/auth/logout", "/me"):
        assert f"{BASE}{path}" in paths, sorted(paths)
    assert "post" in paths[f"{BASE}/auth/login"]


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_every_operation_has_a_one_line_summary(client):
    """The view's docstring, first line: what the phone developer sees beside each path on the docs page."""
    paths = client.get(f"{BASE}/openapi.json").get_json()["paths"]
    operations = {
        f"{method.upper()} {path}": operation.get("summary", "")
        for path, item in paths.items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    assert len(operations) > 40, sorted(operations)
    missing = sorted(name for name, summary in operations.items() if not summary.strip())
    assert missing == [], missing
    multiline = sorted(name for name, summary in operations.items() if "\n" in summary)
    assert multiline == [], multiline


def test_docs_page_uses_only_local_assets_and_they_are_served(client):
    page = client.get(f"{BASE}/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)

    # Nothing on the page points at another host: no CDN, no protocol-relative URLs.
    foreign = [u for u in ABSOLUTE_URL.findall(html) if urlsplit(u).hostname not in {None, "localhost"}]
    assert foreign == [], foreign

    assets = SRC_OR_HREF.findall(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    assert any(a.endswith("swagger-ui.css") for a in assets), assets
    for asset in assets:
        url = urlsplit(asset)
        assert url.path.startswith(f"{BASE}/static/swagger-ui/"), asset
        served = client.get(url.path)
        assert served.status_code == 200, asset
        assert len(served.data) > 1000, asset
        expected = "text/css" if asset.endswith(".css") else "javascript"
        assert expected in served.content_type, (asset, served.content_type)
        served.close()


def test_vendored_bundle_carries_its_licence(client):
    response = client.get(f"{BASE}/static/swagger-ui/LICENSE")
    assert response.status_code == 200
    assert b"Apache License" in response.data
    response.close()


def test_every_operation_documents_the_error_envelope(client):
    """A generated client types errors as the phone gets them: `{code: str, message: str, errors?: {...}}`."""
    spec = client.get(f"{BASE}/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["type"] == "string"
    assert error["properties"]["message"]["type"] == "string"
    assert error["properties"]["errors"]["type"] == "object"
    assert set(error["properties"]) == {"code", "message", "errors"}
    assert sorted(error["required"]) == ["code", "message"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                default = operation["responses"]["default"]["$ref"]
                assert default == "#/components/responses/DEFAULT_ERROR", (method, path)
    assert spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
