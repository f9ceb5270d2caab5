"""The worker side: processes that execute one job at a time, clip by clip."""
