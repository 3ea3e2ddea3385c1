package mav.common.tensor;

import java.util.Arrays;

/**
 * A dense float32 tensor in row-major (C) order. The array is shared, not copied: treat it as owned by whoever
 * made the tensor.
 */
public record Tensor(long[] shape, float[] data) {

    public Tensor {
        long n = elementCount(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n
                    + " elements but data has " + data.length);
        }
    }

    public static Tensor zeros(long... shape) {
        return new Tensor(shape.clone(), new float[Math.toIntExact(elementCount(shape))]);
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    /** Checks the shape, naming the tensor in the error; -1 accepts any size on that axis. */
    public Tensor requireShape(String what, long... expected) {
        boolean ok = expected.length == shape.length;
        for (int i = 0; ok && i < expected.length; i++) {
            ok = expected[i] < 0 || expected[i] == shape[i];
        }
        if (!ok) {
            throw new IllegalArgumentException(what + " has shape " + Arrays.toString(shape) + ", expected "
                    + Arrays.toString(expected).replace("-1", "*"));
        }
        return this;
    }

    public Tensor reshape(long... newShape) {
        return new Tensor(newShape.clone(), data);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
    }
}
