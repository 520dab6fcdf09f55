"""NumPy: arithmetic on 10M-element arrays, a 1500x1500 matmul, sorting and reductions."""

import numpy as np
from threadpoolctl import threadpool_limits

N = 10_000_000
SIZE = 1500
SEED = 20251129


def main() -> None:
    rng = np.random.default_rng(SEED)
    a = rng.standard_normal(N)
    b = rng.random(N)
    c = rng.integers(0, 1000, N)

    d = np.sqrt(np.abs(a)) * b + c / 7.0
    e = np.where(d > d.mean(), d - a, d + a)
    histogram, _ = np.histogram(e, bins=100)
    cumulative = np.cumsum(b)
    order = np.argsort(c, kind="stable")
    ranked = e[order]
    s = np.sort(a)
    unique, counts = np.unique(c, return_counts=True)
    del d, order

    m1 = rng.standard_normal((SIZE, SIZE))
    m2 = rng.standard_normal((SIZE, SIZE))
    product = m1 @ m2
    gram = product.T @ m1

    print(
        f"numpy median={np.median(s):.5f} std={e.std():.5f} hist_max={histogram.max()} "
        f"cum={cumulative[-1]:.2f} ranked0={ranked[0]:.5f} unique={len(unique)} "
        f"maxcount={counts.max()} trace={np.trace(product):.3f} gram={gram.sum():.3f}"
    )


if __name__ == "__main__":
    # One BLAS/OpenMP thread: on 2 cores shared with other work, a second thread made the run
    # time swing by 2x and more (threads spinning for a core the other work holds).
    with threadpool_limits(limits=1):
        main()
