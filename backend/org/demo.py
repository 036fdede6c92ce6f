"""Deterministic demo county (filled in by the seed-demo work)."""

from __future__ import annotations

from flask import Flask


def register_demo_cli(app: Flask) -> None:
    pass
