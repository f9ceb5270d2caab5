"""Deliverables editorial opens: the relink report (HTML, CSV), an ASC MHL, an ALE.

All are made from a finished job's result JSON. What needs a media file's bytes
(pictures, frame sizes, hashes) is read in a worker (`looks.py`); the ASC MHL is
written by the ASC's own tool in a process of its own, under a deadline (`mhl.py`).
"""
