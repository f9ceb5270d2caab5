"""What both sides share: pipe messages, results, errors and exit codes, the
clock, profiles and naming, deadlines, clip accounting, logging, filesystem primitives.
"""
