"""Benchmarks: Proxx against the bare-FFmpeg floor (`python -m bench`, `./dev bench`)."""
