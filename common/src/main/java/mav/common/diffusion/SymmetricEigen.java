package mav.common.diffusion;

/** The principal eigenvector of a small symmetric matrix, by cyclic Jacobi rotations, without allocating. */
final class SymmetricEigen {
    private static final int MAX_SWEEPS = 50;

    private SymmetricEigen() {
    }

    /**
     * Writes to {@code out} the unit eigenvector of the largest eigenvalue of {@code a}, an n×n symmetric matrix in
     * row-major order ({@code a} is left as it is); for a zero matrix, the first axis. {@code work} holds 2·n² values.
     */
    static void principal(double[] a, int n, double[] work, double[] out) {
        int v = n * n;
        System.arraycopy(a, 0, work, 0, v);
        for (int i = 0; i < v; i++) {
            work[v + i] = i % (n + 1) == 0 ? 1 : 0;
        }
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            double offDiagonal = 0;
            double scale = 0;
            for (int i = 0; i < n; i++) {
                scale += Math.abs(work[i * n + i]);
                for (int j = i + 1; j < n; j++) {
                    offDiagonal += Math.abs(work[i * n + j]);
                }
            }
            if (offDiagonal == 0 || offDiagonal <= 1e-15 * scale) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (work[p * n + q] != 0) {
                        rotate(work, n, p, q);
                    }
                }
            }
        }
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (work[i * n + i] > work[best * n + best]) {
                best = i;
            }
        }
        for (int i = 0; i < n; i++) {
            out[i] = work[v + i * n + best];
        }
    }

    /** One Jacobi rotation that zeroes m[p][q] (m = work[0, n²)), accumulated into the eigenvector columns (the rest). */
    private static void rotate(double[] work, int n, int p, int q) {
        int v = n * n;
        double theta = (work[q * n + q] - work[p * n + p]) / (2 * work[p * n + q]);
        double t = theta == 0 ? 1 : Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        double c = 1 / Math.sqrt(t * t + 1);
        double s = t * c;
        for (int k = 0; k < n; k++) {
            double kp = work[k * n + p];
            double kq = work[k * n + q];
            work[k * n + p] = c * kp - s * kq;
            work[k * n + q] = s * kp + c * kq;
        }
        for (int k = 0; k < n; k++) {
            double pk = work[p * n + k];
            double qk = work[q * n + k];
            work[p * n + k] = c * pk - s * qk;
            work[q * n + k] = s * pk + c * qk;
        }
        for (int k = 0; k < n; k++) {
            double kp = work[v + k * n + p];
            double kq = work[v + k * n + q];
            work[v + k * n + p] = c * kp - s * kq;
            work[v + k * n + q] = s * kp + c * kq;
        }
    }
}
