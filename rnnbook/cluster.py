"""Dask clusters for the sweeps: a local one of worker processes, or a connection to a scheduler
that anything else deployed (dask-cuda's LocalCUDACluster, dask-jobqueue's SLURMCluster, ...)::

    from rnnbook import cluster, experiments
    with cluster.local_client(4) as client:
        experiments.run("sgd_stepsize", profile="paper", client=client,
                        threads=cluster.threads_per_worker(4))

Needs ``dask`` and ``distributed`` (pinned in requirements.txt); imported only when called, so
the package runs without them.  Layer 0 of the package: it imports nothing from rnnbook.
"""

from __future__ import annotations

import os

__all__ = ["local_client", "connect", "threads_per_worker"]


def _check_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, got {type(workers).__name__} {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return workers


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """CPU threads each of ``workers`` units may use on a machine of ``cores`` cores (default: the
    cores this process may run on), so that together they do not oversubscribe it: at least 1."""
    workers = _check_workers(workers)
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def local_client(workers: int):
    """A ``distributed.Client`` of a new local cluster of ``workers`` worker processes, one task
    each, listening on localhost only, without a dashboard.  Closing the client (or leaving it as a
    context manager) shuts the cluster down."""
    workers = _check_workers(workers)
    from distributed import Client

    return Client(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                  host="127.0.0.1")


def connect(address: str):
    """A ``distributed.Client`` connected to the running scheduler at ``address`` (e.g.
    ``tcp://10.0.0.5:8786``, or a scheduler file's path ending in .json)."""
    if not isinstance(address, str) or not address.strip():
        raise TypeError(f"address must be a scheduler address such as 'tcp://host:8786', got {address!r}")
    from distributed import Client

    if address.endswith(".json"):
        return Client(scheduler_file=address)
    return Client(address)
