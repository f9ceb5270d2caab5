"""Everything that reads a JobSpec's bytes or a media file: parsing, validation,
planning, probing, routing. Imported by workers (and the CLI's probe/schema); never
by the supervisor side (an import-linter contract checks it).
"""
