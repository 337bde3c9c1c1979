"""Renderers: each turns a RunReport into one output format; none of them computes anything."""

FORMATS = ("table", "json")
