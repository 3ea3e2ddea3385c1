package mav.common.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import mav.common.diffusion.DdimScheduler;
import mav.common.diffusion.DenoisingLoop;
import mav.common.diffusion.GaussianNoise;
import mav.common.tensor.Tensor;
import mav.common.tensor.Tensors;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching across jobs, on the decoder of testing/models: a job sampled in a batch with others gives
 * what it gives alone, and a job that stops half-way (a cancelled job's progress check throws) leaves the batch
 * without holding up or changing the others.
 */
class StepBatcherTest {
    private static final Path DECODER = Path.of("../testing/models/decoder/1").toAbsolutePath().normalize();
    private static final int STEPS = 6;
    private static final long[] ITEM = {1, 3, 16, 64, 64};

    /** One job of the decoder stage's loop, without guidance: its seed gives its noise and its fps. */
    private static float[] sample(OnnxModel model, long seed, DenoisingLoop.StepListener progress) throws Exception {
        int e = model.manifest().intParameter("embed_dim");
        GaussianNoise noise = new GaussianNoise(seed, "test");
        Tensor embed = new Tensor(new long[] {1, e}, noise.next(e));
        Tensor fps = new Tensor(new long[] {1}, new float[] {4 + seed});
        float[] start = noise.next(Math.toIntExact(Tensor.elementCount(ITEM)));
        try (var batch = model.joinBatch()) {
            return DenoisingLoop.run(DdimScheduler.of(model.manifest().requireScheduler()), STEPS, start,
                    (x, t) -> model.run(new OnnxModel.Inputs()
                            .put("sample", new Tensor(ITEM, x))
                            .putLong("timestep", new long[] {1}, Tensors.filled(1, t))
                            .put("image_embed", embed)
                            .put("fps", fps)).get("noise_pred").data(),
                    new GaussianNoise(seed, "steps"), progress);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    @Test
    void aJobBatchedWithOthersGivesWhatItGivesAlone() throws Exception {
        long[] seeds = {1, 2, 3};
        List<float[]> alone = new ArrayList<>();
        try (OnnxModel single = OnnxModel.load(DECODER, OrtSettings.cpu())) {
            for (long s : seeds) {
                alone.add(sample(single, s, (i, n) -> { }));
            }
        }
        OrtSettings batching = OrtSettings.cpu().withBatching(3, 5_000);
        ExecutorService pool = Executors.newFixedThreadPool(seeds.length);
        try (OnnxModel shared = OnnxModel.load(DECODER, batching)) {
            CyclicBarrier together = new CyclicBarrier(seeds.length);
            List<Future<float[]>> batched = new ArrayList<>();
            for (long s : seeds) {
                batched.add(pool.submit(() -> {
                    together.await();
                    return sample(shared, s, (i, n) -> { });
                }));
            }
            for (int i = 0; i < seeds.length; i++) {
                float[] got = batched.get(i).get(2, TimeUnit.MINUTES);
                assertTrue(maxAbsDiff(alone.get(i), got) <= 1e-4, "seed " + seeds[i] + " differs by "
                        + maxAbsDiff(alone.get(i), got));
            }
            long[] counts = shared.batcher().counts();
            assertEquals(STEPS * seeds.length, counts[1], "every step of every job went through the batcher");
            assertTrue(counts[0] < counts[1], "some calls carried several jobs: " + counts[0] + " calls for "
                    + counts[1] + " job steps");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aJobThatStopsHalfWayLeavesTheBatchAndTheOthersFinishUnchanged() throws Exception {
        float[] alone;
        try (OnnxModel single = OnnxModel.load(DECODER, OrtSettings.cpu())) {
            alone = sample(single, 7, (i, n) -> { });
        }
        // a long wait: if the stopped job stayed a member, the other's steps would each wait the full minute
        OrtSettings batching = OrtSettings.cpu().withBatching(2, 60_000);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (OnnxModel shared = OnnxModel.load(DECODER, batching)) {
            CyclicBarrier together = new CyclicBarrier(2);
            Future<float[]> stopped = pool.submit(() -> {
                together.await();
                return sample(shared, 8, (i, n) -> {
                    if (i == 2) {
                        throw new IllegalStateException("job cancelled");
                    }
                });
            });
            Future<float[]> kept = pool.submit(() -> {
                together.await();
                return sample(shared, 7, (i, n) -> { });
            });
            float[] got = kept.get(50, TimeUnit.SECONDS);
            assertTrue(maxAbsDiff(alone, got) <= 1e-4, "differs by " + maxAbsDiff(alone, got));
            Exception e = assertThrows(Exception.class, () -> stopped.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof IllegalStateException, "the stopped job failed with its own error: " + e);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void reusedBuffersLeaveNothingOfOneCallInTheNext() throws Exception {
        try (OnnxModel model = OnnxModel.load(DECODER, OrtSettings.cpu())) {
            float[] a1 = sample(model, 11, (i, n) -> { });
            float[] b = sample(model, 12, (i, n) -> { });
            float[] a2 = sample(model, 11, (i, n) -> { });
            assertArrayEquals(a1, a2, "the same job twice through reused input and output buffers");
            assertFalse(maxAbsDiff(a1, b) == 0, "another job gives another sample");
        }
    }
}
