package mav.srlow;

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
 * SR^t_l: spatiotemporal super-resolution of the whole clip from 64×64 to 256×256. Its pseudo-3D layers see all
 * frames at once, so detail added in one frame is carried to its neighbours.
 */
@ApplicationScoped
public class SpatiotemporalUpsampler extends DiffusionStage {
    private OnnxModel upsampler;
    private int height;
    private int width;

    @Override
    public StageName name() {
        return StageName.SR_LOW;
    }

    @Override
    public void load(ModelRepository repository, String version, OrtSettings settings) {
        upsampler = models.load(repository, "sr_low", version, settings);
        height = upsampler.manifest().intParameter("height");
        width = upsampler.manifest().intParameter("width");
        upsampler.manifest().requireScheduler();
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. the 64×64 clip
        Tensor lowRes = context.fetchTensor("frames_64", 1, 3, -1, -1, -1);
        long[] shape = {1, 3, lowRes.dim(2), height, width};

        // 2. denoise, conditioned on the low-resolution clip (x̂0 held to its local range where the manifest asks)
        float[] clip = denoise(upsampler, request, initialNoise(request, shape), heldToCondition(upsampler, lowRes,
                (x, t) -> upsampler.run(new OnnxModel.Inputs()
                        .put("sample", new Tensor(shape, x))
                        .putLong("timestep", new long[] {1}, new long[] {t})
                        .put("low_res", lowRes)).get("noise_pred").data()), context);

        return Map.of("frames_256", context.storeTensor("frames.npy", new Tensor(shape, Tensors.clamp(clip, -1f, 1f))));
    }
}
