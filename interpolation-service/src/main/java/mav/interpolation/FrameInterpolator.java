package mav.interpolation;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Arrays;
import java.util.Map;
import mav.common.diffusion.Denoiser;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.onnx.ModelLoadException;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.OnnxModel;
import mav.common.onnx.OrtSettings;
import mav.common.stage.DiffusionStage;
import mav.common.stage.StageContext;
import mav.common.tensor.Tensor;
import mav.common.tensor.Tensors;

/**
 * ↑F: masked frame interpolation. The keyframes go into every {@code frame_skip}-th slot of a longer clip, a mask
 * marks them as known, and the interpolation network fills the frames between: 16 keyframes with skip 5 become
 * (16 − 1)·5 + 1 = 76 frames. The known frames are pasted back exactly after sampling.
 *
 * <p>Sampling starts from the clip the keyframes already imply: each in-between frame the linear blend of its two
 * neighbouring keyframes (objects move under a pixel between them at 64²), noised to the manifest's
 * {@code inbetween_strength} of the chain and denoised over the remaining steps (SDEdit). From pure noise (strength 1)
 * this network draws the in-between frames as blobs, however well it keeps the keyframes' colour.
 *
 * <p>The network is conditioned on the image embedding, on the fps of the interpolated clip (keyframe fps × skip)
 * and on the skip; it runs unguided, since the known frames already pin content and colour. It sees the clip in
 * windows of the manifest's {@code window_keyframes} keyframes (the clip length it was trained on; absent or 0: the
 * whole clip), all windows in one batched call per step ({@link ClipWindows}).
 */
@ApplicationScoped
public class FrameInterpolator extends DiffusionStage {
    private OnnxModel interpolator;
    private int frameSkip;
    private int embedDim;
    private double strength;
    private int windowKeyframes;

    @Override
    public StageName name() {
        return StageName.INTERPOLATION;
    }

    @Override
    public void load(ModelRepository repository, String version, OrtSettings settings) {
        interpolator = models.load(repository, "interpolator", version, settings);
        frameSkip = interpolator.manifest().intParameter("frame_skip");
        embedDim = interpolator.manifest().intParameter("embed_dim");
        interpolator.manifest().requireScheduler();
        // absent in manifests older than the parameter: 1, sampling from pure noise as those models were shipped
        strength = interpolator.manifest().doubleParameter("inbetween_strength", 1.0);
        double window = interpolator.manifest().doubleParameter("window_keyframes", 0);
        if (window != Math.rint(window) || window < 0 || window == 1) {
            throw new ModelLoadException("manifest of interpolator: window_keyframes must be 0 (the whole clip) or an"
                    + " integer ≥ 2, got " + window);
        }
        windowKeyframes = (int) window;
        if (!(strength > 0 && strength <= 1)) {
            throw new ModelLoadException("manifest of interpolator: inbetween_strength must be in (0, 1], got "
                    + strength);
        }
    }

    /** Frames of the interpolated clip for {@code keyframes} keyframes. */
    static int interpolatedLength(int keyframes, int skip) {
        return (keyframes - 1) * skip + 1;
    }

    /**
     * The clip [3, f, plane] whose frame {@code i·skip + j} is {@code (1 − j/skip)·K_i + (j/skip)·K_{i+1}}: the
     * keyframes [3, k, plane] in their slots, every frame between two of them their linear blend.
     */
    static float[] keyframeBlend(float[] keyframes, int k, int skip, int plane) {
        int f = interpolatedLength(k, skip);
        float[] out = new float[3 * f * plane];
        for (int c = 0; c < 3; c++) {
            for (int at = 0; at < f; at++) {
                int i = Math.min(at / skip, k - 2);
                float w = (at - i * skip) / (float) skip;
                int a = (c * k + i) * plane;
                int b = a + plane;
                int o = (c * f + at) * plane;
                for (int p = 0; p < plane; p++) {
                    out[o + p] = (1 - w) * keyframes[a + p] + w * keyframes[b + p];
                }
            }
        }
        return out;
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. inputs
        Tensor keyframes = context.fetchTensor("keyframes", 1, 3, -1, -1, -1);
        Tensor embed = context.fetchTensor("image_embed", 1, embedDim);
        int k = (int) keyframes.dim(2);
        int h = (int) keyframes.dim(3);
        int w = (int) keyframes.dim(4);
        int f = interpolatedLength(k, frameSkip);
        int plane = h * w;

        // 2. masked clip: keyframe i at frame i·skip, mask 1 there
        long[] shape = {1, 3, f, h, w};
        float[] masked = new float[3 * f * plane];
        float[] mask = new float[f * plane];
        for (int i = 0; i < k; i++) {
            int at = i * frameSkip;
            for (int c = 0; c < 3; c++) {
                System.arraycopy(keyframes.data(), (c * k + i) * plane, masked, (c * f + at) * plane, plane);
            }
            Arrays.fill(mask, at * plane, (at + 1) * plane, 1f);
        }
        // 3. denoise, from the keyframes' blend noised part-way down the chain (or from pure noise at strength 1),
        // every window of the clip in one call
        ClipWindows windows = new ClipWindows(k, windowKeyframes, frameSkip);
        int n = windows.count();
        long[] batchShape = {n, 3, windows.span(), h, w};
        OnnxModel.Inputs inputs = new OnnxModel.Inputs()
                .put("image_embed", new Tensor(new long[] {n, embedDim}, Tensors.repeat(embed.data(), n)))
                .put("fps", new Tensor(new long[] {n}, Tensors.filled(n, request.fps() * (float) frameSkip)))
                .put("frame_skip", new Tensor(new long[] {n}, Tensors.filled(n, (float) frameSkip)))
                .put("masked_frames", new Tensor(batchShape, windows.gather(masked, 3, plane)))
                .put("mask", new Tensor(new long[] {n, 1, windows.span(), h, w}, windows.gather(mask, 1, plane)));
        long[] timesteps = new long[n];
        Denoiser denoiser = (x, t) -> {
            Arrays.fill(timesteps, t);
            // the same inputs each step, but for the sample and its timestep
            return windows.scatter(interpolator.run(inputs
                    .put("sample", new Tensor(batchShape, windows.gather(x, 3, plane)))
                    .putLong("timestep", new long[] {n}, timesteps)).get("noise_pred").data(), 3, plane);
        };
        float[] noise = initialNoise(request, shape);
        float[] clip = strength >= 1 || k < 2
                ? denoise(interpolator, request, noise, denoiser, context)
                : denoiseFrom(interpolator, request, strength, keyframeBlend(keyframes.data(), k, frameSkip, plane),
                        noise, denoiser, context);

        // 4. the known frames stay exactly what the decoder made
        Tensors.clamp(clip, -1f, 1f);
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] == 1f) {
                for (int c = 0; c < 3; c++) {
                    clip[c * f * plane + i] = masked[c * f * plane + i];
                }
            }
        }
        return Map.of("frames_64", context.storeTensor("frames.npy", new Tensor(shape, clip)));
    }
}
