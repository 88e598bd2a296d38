"""The configuration template written by ``pgmonkey pgconfig create``."""

from __future__ import annotations

__all__ = ["template_text"]


def template_text() -> str:
    """Return the YAML configuration template (the data file ``pgmonkey/config/template.yaml``).

    It documents every section and key with its default and the environment interpolation
    syntax; with ``user``/``password``/``host``/``port``/``dbname`` filled in, it works for
    all four connection types.
    """
    from importlib import resources  # only here: importing it costs every command ~6 ms

    return resources.files("pgmonkey.config").joinpath("template.yaml").read_text(encoding="utf-8")
