"""The watch folder: its layout and every name it derives, intake, claims and locks,
filing results, recovery of dead runners' jobs, status, metrics, misplaced files,
and the supervisor loop. It moves names; workers handle content.
"""
