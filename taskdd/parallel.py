"""Map a picklable function over jobs: in this process, a local process pool, or Ray.

Engines: ``serial``, ``process`` (spawned worker processes on this machine) and ``ray`` (a local
Ray runtime started for the call, or an existing cluster given by ``address``; needs the ``ray``
extra, imported only here). Results come back in the order of the jobs.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable, Sequence

from taskdd.errors import ConfigError

__all__ = ["ENGINES", "map_jobs"]

ENGINES = ("serial", "process", "ray")


def map_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], *, engine: str = "process", workers: int = 1,
             address: str | None = None) -> list:
    """``[fn(job) for job in jobs]`` on ``engine`` with up to ``workers`` parallel workers."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; known engines: {', '.join(ENGINES)}")
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an int >= 1, got {workers!r}")
    if engine == "serial":
        return [fn(j) for j in jobs]
    if engine == "process":
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            return list(pool.map(fn, jobs))
    return _map_ray(fn, jobs, workers, address)


def _map_ray(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, address: str | None) -> list:
    try:
        import ray
    except ImportError:
        raise ConfigError("engine 'ray' needs the ray extra: pip install 'taskdd[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
    try:
        remote = ray.remote(num_cpus=1)(fn)
        return ray.get([remote.remote(j) for j in jobs])
    finally:
        if started:
            ray.shutdown()
