"""Proxx's fast tests. A regular package, so `tests.*` is this folder even where another
distribution installs a top-level `tests` package (ascmhl 1.2's wheel does).
"""
