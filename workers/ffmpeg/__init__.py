"""The FFmpeg engine: a clip as named steps (engine) and its argv (args)."""
