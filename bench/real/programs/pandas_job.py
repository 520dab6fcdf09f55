"""pandas: build a 300k-row frame, group and aggregate, merge, sort, CSV round trip."""

import os
import tempfile

import numpy as np
import pandas as pd

ROWS = 300_000
SEED = 20251129


def build_frame(rng: np.random.Generator) -> pd.DataFrame:
    cities = np.array(["Lyon", "Oslo", "Lima", "Pune", "Kobe", "Graz", "Cork", "Bern"])
    products = np.array([f"product-{i:03d}" for i in range(250)])
    return pd.DataFrame(
        {
            "order_id": np.arange(ROWS, dtype=np.int64),
            "customer": rng.integers(0, 20_000, ROWS),
            "city": pd.Categorical(cities[rng.integers(0, len(cities), ROWS)]),
            "product": products[rng.integers(0, len(products), ROWS)],
            "quantity": rng.integers(1, 20, ROWS),
            "price": rng.gamma(2.0, 15.0, ROWS).round(2),
            "discount": rng.random(ROWS) * 0.3,
        }
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    orders = build_frame(rng)
    orders["revenue"] = orders["quantity"] * orders["price"] * (1.0 - orders["discount"])

    by_city_product = (
        orders.groupby(["city", "product"], observed=True)
        .agg(
            orders=("order_id", "count"),
            revenue=("revenue", "sum"),
            mean_price=("price", "mean"),
            max_quantity=("quantity", "max"),
        )
        .reset_index()
    )

    customers = pd.DataFrame(
        {
            "customer": np.arange(20_000),
            "segment": rng.choice(["retail", "pro", "vip"], 20_000, p=[0.7, 0.25, 0.05]),
            "since": rng.integers(2000, 2025, 20_000),
        }
    )
    enriched = orders.merge(customers, on="customer", how="left", validate="many_to_one")
    per_segment = enriched.groupby("segment")["revenue"].agg(["sum", "mean", "count"])
    top = enriched.sort_values(["revenue", "order_id"], ascending=[False, True]).head(1000)

    with tempfile.TemporaryDirectory(prefix="memslim-bench-") as tmp:
        path = os.path.join(tmp, "orders.csv")
        enriched.to_csv(path, index=False)
        back = pd.read_csv(path, dtype={"city": "category"})
    ranked = back.assign(rank=back.groupby("city", observed=True)["revenue"].rank(method="first"))

    print(
        f"pandas rows={len(back)} groups={len(by_city_product)} "
        f"vip={per_segment.loc['vip', 'count']} top={top['revenue'].iloc[0]:.2f} "
        f"total={ranked['revenue'].sum():.2f} maxrank={int(ranked['rank'].max())}"
    )


if __name__ == "__main__":
    main()
