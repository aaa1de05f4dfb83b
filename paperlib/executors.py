"""Where the points of a sweep (learning curves, model x data-set grids) are computed.

Every sweep point writes one cache entry, so a sweep only has to compute entries somewhere and read them back in
order. An executor maps a function over the points:

- ``"in-process"`` (default): one after the other, in this process;
- ``"local:N"``: a ``dask.distributed`` ``LocalCluster`` of N single-threaded worker processes on this machine;
- ``"tcp://host:port"`` (or ``tls://``, ``ucx://``): the scheduler of an existing dask cluster, e.g. one started
  with ``dask scheduler`` and ``dask worker`` on the nodes of a batch system. Its workers must share the cache
  directory (``PAPERLIB_CACHE``) with this process, e.g. on a network file system.

Results come back in the order of the points, whatever order they finish in, so a sweep gives the same table on
any executor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

IN_PROCESS = "in-process"
_LOCAL = re.compile(r"^local:(\d+)$")
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://\S+$")
ALLOWED = f"'{IN_PROCESS}', 'local:N' (N >= 1 dask worker processes) or a dask scheduler address 'tcp://host:port'"


class Executor(Protocol):
    """Maps a function over sweep points; used as a context manager so that clusters are shut down."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], desc: str = "", progress: bool = True) -> list:
        """``[fn(item) for item in items]``, in order."""

    def close(self) -> None:
        """Release the workers (a no-op in process)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> None: ...


def executor_error(spec: Any) -> str | None:
    """Why ``spec`` is not an executor specification (None when it is)."""
    local = _LOCAL.match(spec) if isinstance(spec, str) else None
    valid = isinstance(spec, str) and (spec == IN_PROCESS or _ADDRESS.match(spec) is not None
                                       or (local is not None and int(local.group(1)) >= 1))
    return None if valid else f"got {spec!r}; allowed: {ALLOWED}"


def scheduler_unreachable(spec: str, timeout_s: float = 5.0) -> str | None:
    """Why the dask scheduler at the ``tcp://host:port`` address ``spec`` cannot be reached (None when a TCP
    connection opens, or for any other kind of executor), so that a run fails before its first step."""
    import socket
    from urllib.parse import urlparse

    if not (isinstance(spec, str) and spec.startswith("tcp://")):
        return None
    address = urlparse(spec)
    try:
        port = address.port or 8786
    except ValueError:
        return f"no port in {spec!r}"
    try:
        with socket.create_connection((address.hostname, port), timeout=timeout_s):
            return None
    except OSError as err:
        return f"no scheduler answers at {address.hostname}:{port} ({err.strerror or err})"


THREAD_VARIABLES: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Within the block, processes started by this one run one OpenMP/BLAS thread each.

    The variables must be in a child's environment when it starts: a spawned worker imports the parent's
    main module (and with it torch, whose OpenMP runtime reads them once) before any initialiser runs.
    Two workers with two spinning OpenMP threads each on two cores ran tblite six times slower.
    """
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: "1" for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class InProcessExecutor:
    """Computes the points one after the other in this process."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], desc: str = "", progress: bool = True) -> list:
        """``[fn(item) for item in items]`` with a progress bar."""
        from tqdm.auto import tqdm

        return [fn(item) for item in tqdm(list(items), desc=desc, disable=not progress, leave=False)]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc) -> None:
        return None


class DaskExecutor:
    """Computes the points on a ``dask.distributed`` cluster: a new ``LocalCluster`` of ``n_workers``
    single-threaded processes, or the existing scheduler at ``address``."""

    def __init__(self, address: str | None = None, n_workers: int = 2):
        import dask
        from distributed import Client, LocalCluster

        self.cluster = None
        if address is None:
            # One thread per worker: N workers already fill N cores, and more threads would oversubscribe them.
            # The scheduler always serves HTTP; port 0 takes a free one instead of warning that 8787 is taken.
            # The scheduler runs in this process: a library that set the root logger to INFO would otherwise print
            # its state changes (and the routine closing of its connections at shutdown) into the notebook.
            logging.getLogger("distributed").setLevel(logging.ERROR)
            # The nanny's default MALLOC_TRIM_THRESHOLD_ (64 KiB) makes glibc return memory to the system after
            # nearly every free: a PyTorch fit then spends much of its time in page faults (2.6 times slower,
            # bench/worker_memory.py). Unset, glibc keeps its own adaptive threshold.
            # One OpenMP/BLAS thread per worker even when this process's environment asks for more (a library
            # imported earlier may have set OMP_NUM_THREADS; the nanny passes this environment on).
            with (dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
                  single_threaded_children()):
                self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", silence_logs=logging.ERROR)
            address = self.cluster.scheduler_address
        self.client = Client(address)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], desc: str = "", progress: bool = True) -> list:
        """``[fn(item) for item in items]`` computed on the cluster's workers, returned in order."""
        from distributed import as_completed
        from tqdm.auto import tqdm

        items = list(items)
        # pure=False: two equal points (e.g. repeated draws) are separate tasks, as they are in process.
        futures = self.client.map(fn, items, pure=False)
        with tqdm(total=len(items), desc=desc, disable=not progress, leave=False) as bar:
            for _ in as_completed(futures):
                bar.update(1)
        return self.client.gather(futures)

    def close(self) -> None:
        """Disconnect, and shut the cluster down when this executor started it."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_executor(spec: str = IN_PROCESS) -> InProcessExecutor | DaskExecutor:
    """The executor named by ``spec`` (see the module docstring); raises ValueError naming the allowed forms."""
    error = executor_error(spec)
    if error:
        raise ValueError(f"executor: {error}")
    if spec == IN_PROCESS:
        return InProcessExecutor()
    local = _LOCAL.match(spec)
    return DaskExecutor(n_workers=int(local.group(1))) if local else DaskExecutor(address=spec)
