package mav.interpolation;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
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
 * <p>The network is conditioned on the image embedding, on the fps of the interpolated clip (keyframe fps × skip)
 * and on the skip; it runs unguided, since the known frames already pin content and colour.
 */
@ApplicationScoped
public class FrameInterpolator extends DiffusionStage {
    private OnnxModel interpolator;
    private int frameSkip;
    private int embedDim;

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
    }

    /** Frames of the interpolated clip for {@code keyframes} keyframes. */
    static int interpolatedLength(int keyframes, int skip) {
        return (keyframes - 1) * skip + 1;
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
            java.util.Arrays.fill(mask, at * plane, (at + 1) * plane, 1f);
        }
        Tensor maskedT = new Tensor(shape, masked);
        Tensor maskT = new Tensor(new long[] {1, 1, f, h, w}, mask);
        Tensor fps = new Tensor(new long[] {1}, new float[] {request.fps() * (float) frameSkip});
        Tensor skip = new Tensor(new long[] {1}, new float[] {frameSkip});

        // 3. denoise
        float[] clip = denoise(interpolator, request, initialNoise(request, shape), (x, t) ->
                interpolator.run(new OnnxModel.Inputs()
                        .put("sample", new Tensor(shape, x))
                        .putLong("timestep", new long[] {1}, new long[] {t})
                        .put("image_embed", embed)
                        .put("fps", fps)
                        .put("masked_frames", maskedT)
                        .put("mask", maskT)
                        .put("frame_skip", skip)).get("noise_pred").data(), context);

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
