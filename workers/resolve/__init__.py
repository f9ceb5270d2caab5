"""The Resolve engine: the engine, a clip run, what Resolve is asked for, its API, one per host."""
