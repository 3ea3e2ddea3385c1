package mav.common.diffusion;

import java.util.stream.IntStream;

/**
 * Element-wise loops over a sample, cut into cache-sized chunks run on the common fork-join pool: a step of SR_h
 * touches 7 M values per array, and between two model calls the cores that ONNX Runtime used are idle.
 */
final class ElementChunks {
    /** 64 Ki floats: a chunk of each array a step reads and writes stays in a core's L2 cache. */
    static final int CHUNK = 1 << 16;

    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    private ElementChunks() {
    }

    /** Runs {@code body} over [0, n) in chunks, in parallel when there is more than one chunk. */
    static void forEach(int n, Range body) {
        int chunks = (n + CHUNK - 1) / CHUNK;
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        IntStream.range(0, chunks).parallel().forEach(c -> body.run(c * CHUNK, Math.min(n, (c + 1) * CHUNK)));
    }
}
