"""Document scanner: decodes an 8-bit grayscale page stripe by stripe into an array, keeps it,
reports exposure and how much of the page is ink.

before.py: finding `dtype` on the np.zeros line in decode_page, a 4000 x 4000 int64 array whose
values all lie in 0..255, alive at the peak. after.py: dtype=np.uint8 at that line.
"""

import numpy as np


def scanner_stripes(height, width, rows_per_stripe=50, seed=0):
    """8-bit pixel rows as the scanner sends them, one stripe at a time."""
    rng = np.random.default_rng(seed)
    for top in range(0, height, rows_per_stripe):
        yield top, rng.integers(0, 256, size=(rows_per_stripe, width), dtype=np.uint8)


def decode_page(height, width):
    page = np.zeros((height, width), dtype=np.int64)
    for top, stripe in scanner_stripes(height, width):
        page[top : top + len(stripe)] = stripe
    return page


def main():
    page = decode_page(4_000, 4_000)
    mean = page.mean()
    ink = np.count_nonzero(page < 64) / page.size
    darkest_row = int(page.sum(axis=1).argmin())
    print(
        f"page {page.shape[0]}x{page.shape[1]}, mean level {mean:.3f}, "
        f"ink {ink:.4%}, darkest row {darkest_row}, range {page.min()}..{page.max()}"
    )


if __name__ == "__main__":
    main()
