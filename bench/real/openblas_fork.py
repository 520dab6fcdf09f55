"""How a fork changes what OpenBLAS maps, without memslim (bench/RESULTS.md, "OpenBLAS's fork
handler"). Run it under strace and count the 32 MiB anonymous maps:

    strace -f -qq -e trace=mmap -o maps.log python3 bench/real/openblas_fork.py WHERE
    grep -c "33554432, PROT" maps.log

WHERE is none, before, inside0 (under the limit, before the matmul), inside or after: where the
one fork (a child that exits at once) happens."""

import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits


def fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def main(where: str) -> None:
    if where == "before":
        fork()
    with threadpool_limits(limits=1):
        a = np.random.default_rng(0).random((500, 500))
        if where == "inside0":
            fork()
        b = a @ a
        if where == "inside":
            fork()
    if where == "after":
        fork()
    print(f"{where}: {float(b.sum()):.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "none")
