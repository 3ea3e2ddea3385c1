package mav.common.onnx;

import ai.onnxruntime.OrtException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import mav.common.tensor.Tensor;

/**
 * Continuous batching across jobs: the denoising loops of the jobs a stage has in flight (each on its own worker
 * thread) share one model call per step. A loop {@link #join() joins} before its first step and leaves after its last
 * (or when it throws, e.g. a cancelled job), so jobs enter and leave at any step boundary. A member's call waits
 * until every member has asked too or {@code maxBatch} jobs have; while a call of other members runs it waits for
 * that call to end (they ask again right after it, so the jobs fall into step), otherwise at most {@code wait}. The
 * one whose condition comes first runs the call for all, the items concatenated along the batch axis (each with its
 * own timestep), and hands each job its rows of the outputs. Only calls whose inputs agree on every axis but
 * the first share a call. Threads that have not joined (warm-up, a text encoder outside a loop) call the model
 * directly.
 *
 * <p>Each item's rows go through the same graph as alone: the models have no operator that mixes batch items
 * (group norm and attention are per item), so a job's output does not depend on its companions beyond float
 * rounding of kernels that block differently by batch size.
 */
public final class StepBatcher {
    private final OnnxModel model;
    private final int maxBatch;
    private final long waitNanos;
    private final ThreadLocal<Boolean> member = ThreadLocal.withInitial(() -> false);
    private final List<Request> pending = new ArrayList<>();
    private int members;
    private int inCall;
    private long lastCallEnd = System.nanoTime();
    private long calls;
    private long items;

    /** One job's call, waiting for a batch. */
    private static final class Request {
        final OnnxModel.Inputs inputs;
        final String key;
        final int rows;
        boolean taken;
        boolean done;
        Map<String, Tensor> result;
        Throwable error;

        Request(OnnxModel.Inputs inputs) {
            this.inputs = inputs;
            this.key = inputs.batchKey();
            this.rows = inputs.rows();
        }
    }

    /** A loop's place among the members; closing it leaves. */
    public interface Membership extends AutoCloseable {
        @Override
        void close();
    }

    StepBatcher(OnnxModel model, int maxBatch, long waitMillis) {
        if (maxBatch < 2) {
            throw new IllegalArgumentException("a batch of jobs needs max batch >= 2, got " + maxBatch);
        }
        if (waitMillis < 0) {
            throw new IllegalArgumentException("batch wait must be >= 0 ms, got " + waitMillis);
        }
        this.model = model;
        this.maxBatch = maxBatch;
        this.waitNanos = waitMillis * 1_000_000L;
    }

    /** The calling thread's loop joins; its calls of {@link #run} are batched until the membership is closed. */
    public Membership join() {
        if (member.get()) {
            return () -> { };
        }
        synchronized (this) {
            members++;
        }
        member.set(true);
        return () -> {
            member.set(false);
            synchronized (this) {
                members--;
                notifyAll(); // the others may have been waiting for this one
            }
        };
    }

    /** Model calls made and job items they carried, since start: items / calls is the mean batch. */
    public synchronized long[] counts() {
        return new long[] {calls, items};
    }

    Map<String, Tensor> run(OnnxModel.Inputs inputs) throws OrtException {
        if (!member.get()) {
            return model.runDirect(inputs);
        }
        Request mine = new Request(inputs);
        List<Request> batch;
        synchronized (this) {
            pending.add(mine);
            notifyAll();
            long arrived = System.nanoTime();
            while (true) {
                if (mine.done) {
                    return outcome(mine);
                }
                if (mine.taken) {
                    await(0, mine);
                    continue;
                }
                List<Request> same = compatible(mine);
                boolean ready = same.size() >= maxBatch || pending.size() >= members;
                long left = 0;
                if (!ready && inCall == 0) {
                    left = Math.max(arrived, lastCallEnd) + waitNanos - System.nanoTime();
                    ready = left <= 0;
                }
                if (ready) {
                    batch = same;
                    for (Request r : batch) {
                        r.taken = true;
                    }
                    pending.removeAll(batch);
                    inCall += batch.size();
                    break;
                }
                // members in a call come back at its end: wait for it, then at most the wait for the rest
                await(inCall > 0 ? 0 : left, mine);
            }
        }
        Map<String, Tensor>[] outs = null;
        Throwable error = null;
        try {
            outs = call(batch);
        } catch (Throwable e) {
            error = e;
        }
        synchronized (this) {
            for (int i = 0; i < batch.size(); i++) {
                Request r = batch.get(i);
                r.result = outs == null ? null : outs[i];
                r.error = error;
                r.done = true;
            }
            inCall -= batch.size();
            lastCallEnd = System.nanoTime();
            calls++;
            items += batch.size();
            notifyAll();
        }
        return outcome(mine);
    }

    /** Pending requests that can share a call with {@code mine}, {@code mine} first, at most maxBatch. */
    private List<Request> compatible(Request mine) {
        List<Request> same = new ArrayList<>();
        same.add(mine);
        for (Request r : pending) {
            if (same.size() >= maxBatch) {
                break;
            }
            if (r != mine && !r.taken && r.key.equals(mine.key)) {
                same.add(r);
            }
        }
        return same;
    }

    private void await(long nanos, Request mine) {
        try {
            if (nanos <= 0) {
                wait();
            } else {
                wait(Math.max(1, nanos / 1_000_000), (int) (nanos % 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!mine.taken) {
                pending.remove(mine);
            }
            throw new IllegalStateException("interrupted while waiting for a batched model call", e);
        }
    }

    private static Map<String, Tensor> outcome(Request r) throws OrtException {
        if (r.error instanceof OrtException e) {
            throw e;
        }
        if (r.error instanceof RuntimeException e) {
            throw e;
        }
        if (r.error instanceof Error e) {
            throw e;
        }
        return r.result;
    }

    /** One model call for the batch: inputs concatenated along axis 0, outputs split by each item's rows. */
    @SuppressWarnings("unchecked")
    private Map<String, Tensor>[] call(List<Request> batch) throws OrtException {
        if (batch.size() == 1) {
            return new Map[] {model.runDirect(batch.get(0).inputs)};
        }
        OnnxModel.Inputs joined = new OnnxModel.Inputs();
        OnnxModel.Inputs first = batch.get(0).inputs;
        int rows = batch.stream().mapToInt(r -> r.rows).sum();
        for (String name : first.floats.keySet()) {
            long[] shape = first.floats.get(name).shape().clone();
            shape[0] = rows;
            float[] data = new float[Math.toIntExact(Tensor.elementCount(shape))];
            int at = 0;
            for (Request r : batch) {
                float[] part = r.inputs.floats.get(name).data();
                System.arraycopy(part, 0, data, at, part.length);
                at += part.length;
            }
            joined.put(name, new Tensor(shape, data));
        }
        for (String name : first.longs.keySet()) {
            long[] shape = first.longs.get(name)[0].clone();
            shape[0] = rows;
            long[] data = new long[Math.toIntExact(Tensor.elementCount(shape))];
            int at = 0;
            for (Request r : batch) {
                long[] part = r.inputs.longs.get(name)[1];
                System.arraycopy(part, 0, data, at, part.length);
                at += part.length;
            }
            joined.putLong(name, shape, data);
        }
        Map<String, Tensor> out = model.runDirect(joined);
        Map<String, Tensor>[] split = new Map[batch.size()];
        for (int i = 0; i < split.length; i++) {
            split[i] = new LinkedHashMap<>();
        }
        for (var e : out.entrySet()) {
            Tensor t = e.getValue();
            if (t.dim(0) != rows) {
                throw new IllegalStateException(model.versionTag() + ": output '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + ", not " + rows + " rows of a batch");
            }
            int perRow = t.data().length / rows;
            int at = 0;
            for (int i = 0; i < split.length; i++) {
                int n = batch.get(i).rows * perRow;
                long[] shape = t.shape().clone();
                shape[0] = batch.get(i).rows;
                split[i].put(e.getKey(), new Tensor(shape, Arrays.copyOfRange(t.data(), at, at + n)));
                at += n;
            }
        }
        return split;
    }
}
