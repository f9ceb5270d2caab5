"""slurm.conf and gres.conf of the multi-node namespace cluster (integration/ns_cluster.py).

Every host reads the one file on the shared filesystem; what is host-local
(munge socket, slurmd spool, pid files) lives in each host's private `/tmp`.
"""

from __future__ import annotations

from pathlib import Path

CPUS = 2  # per node: what slurmd finds on this machine kind


def write_config(r: Path, heads: list[str], nodes_: list[str], addrs: dict[str, str]) -> None:
    head = heads[0]
    (r / "gres.conf").write_text("".join(f"NodeName={n} Name=resolve Count=1\n" for n in nodes_))
    nodes = [
        f"NodeName={n} NodeAddr={addrs[n]} CPUs={CPUS} Gres=resolve:1 State=UNKNOWN" for n in nodes_
    ]
    (r / "slurm.conf").write_text(
        "\n".join(
            [
                "ClusterName=proxxmn",
                f"SlurmctldHost={head}({addrs[head]})",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                "AuthInfo=socket=/tmp/munge/munge.socket",
                "MpiDefault=none",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SwitchType=switch/none",
                "JobRequeue=0",
                "ReturnToService=2",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "SchedulerType=sched/backfill",
                "GresTypes=resolve",
                "KillWait=5",
                "OverTimeLimit=0",
                "InactiveLimit=0",
                "MinJobAge=600",
                # A node that stops answering is down (NODE_FAIL for its jobs) in ~15 s.
                "SlurmdTimeout=10",
                "MessageTimeout=5",
                "TCPTimeout=2",
                f"StateSaveLocation={r / 'state'}",
                "SlurmdSpoolDir=/tmp/slurmd",
                "SlurmctldPidFile=/tmp/slurmctld.pid",
                "SlurmdPidFile=/tmp/slurmd.pid",
                f"SlurmctldLogFile={r / 'log/slurmctld.log'}",
                f"SlurmdLogFile={r / 'log/slurmd-%n.log'}",
                "JobCompType=jobcomp/filetxt",
                f"JobCompLoc={r / 'log/jobcomp.txt'}",
                "AccountingStorageType=accounting_storage/none",
                "JobAcctGatherType=jobacct_gather/none",
                *nodes,
                f"PartitionName=proxx Nodes={','.join(nodes_)} Default=YES "
                "MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
