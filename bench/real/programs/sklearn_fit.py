"""scikit-learn and SciPy: fit a random forest and a logistic regression on a synthetic
50k x 40 problem, then a sparse least-squares step and a scipy.optimize minimisation."""

import numpy as np
from scipy import optimize, sparse
from scipy.sparse.linalg import lsqr
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEED = 20251129


def main() -> None:
    x, y = make_classification(
        n_samples=50_000,
        n_features=40,
        n_informative=12,
        n_redundant=8,
        n_classes=3,
        random_state=SEED,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

    # Each tree on half the rows, depth-limited: about 2 s on a 2-core machine.
    forest = RandomForestClassifier(
        n_estimators=30, max_depth=8, max_samples=0.5, n_jobs=1, random_state=SEED
    ).fit(x_train, y_train)
    logistic = LogisticRegression(max_iter=300).fit(x_train, y_train)
    forest_score = forest.score(x_test, y_test)
    logistic_score = logistic.score(x_test, y_test)

    # A sparse design (the nonzero features only) solved by least squares.
    rng = np.random.default_rng(SEED)
    design = sparse.random(
        200_000, 2_000, density=0.002, format="csr", random_state=rng, dtype=np.float64
    )
    truth = rng.standard_normal(2_000)
    target = design @ truth + 0.01 * rng.standard_normal(200_000)
    solution = lsqr(design, target, atol=1e-10, btol=1e-10, iter_lim=500)[0]

    # Smooth minimisation: the regularised logistic loss of one class against the rest.
    labels = (y_train == 0).astype(np.float64)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x_train @ w
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        value = -np.mean(labels * np.log(p + eps) + (1 - labels) * np.log(1 - p + eps))
        grad = x_train.T @ (p - labels) / len(labels)
        return value + 0.5e-3 * w @ w, grad + 1e-3 * w

    result = optimize.minimize(loss, np.zeros(x_train.shape[1]), jac=True, method="L-BFGS-B")

    print(
        f"sklearn forest={forest_score:.4f} logistic={logistic_score:.4f} "
        f"lsqr_err={np.abs(solution - truth).max():.2e} lbfgs={result.fun:.5f} "
        f"nit={result.nit}"
    )


if __name__ == "__main__":
    # One BLAS/OpenMP thread: on 2 cores shared with other work, a second thread made the run
    # time swing by 2x and more (threads spinning for a core the other work holds).
    with threadpool_limits(limits=1):
        main()
