package mav.srlow;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import mav.common.diffusion.DdimScheduler;
import mav.common.diffusion.DenoisingLoop;
import mav.common.diffusion.GaussianNoise;
import mav.common.diffusion.SchedulerConfig;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.OnnxModel;
import mav.common.onnx.OrtSettings;
import mav.common.onnx.StageModels;
import mav.common.stage.PipelineStage;
import mav.common.stage.StageContext;
import mav.common.tensor.Tensor;
import mav.common.tensor.Tensors;

/**
 * SR^t_l: spatiotemporal super-resolution of the whole clip from 64×64 to 256×256. Its pseudo-3D layers see all
 * frames at once, so detail added in one frame is carried to its neighbours.
 */
@ApplicationScoped
public class SpatiotemporalUpsampler implements PipelineStage {
    private final StageModels models = new StageModels();
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
    public String modelVersion() {
        return models.versionTag();
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. the 64×64 clip
        Tensor lowRes = context.fetchTensor("frames_64").requireShape("frames_64", 1, 3, -1, -1, -1);
        int f = (int) lowRes.dim(2);
        long[] shape = {1, 3, f, height, width};

        // 2. timesteps and noise
        SchedulerConfig sc = upsampler.manifest().requireScheduler();
        DdimScheduler scheduler = DdimScheduler.of(sc);
        int steps = request.stepsFor(StageName.SR_LOW, sc.defaultSteps());
        float[] noise = new GaussianNoise(request.seed(), "sr-low").next(Math.toIntExact(Tensor.elementCount(shape)));

        // 3. denoise, conditioned on the low-resolution clip
        float[] clip = context.infer(() -> DenoisingLoop.run(scheduler, steps, noise, (x, t) ->
                upsampler.run(new OnnxModel.Inputs()
                        .put("sample", new Tensor(shape, x))
                        .putLong("timestep", new long[] {1}, new long[] {t})
                        .put("low_res", lowRes)).get("noise_pred").data(),
                null, context::progress));

        return Map.of("frames_256", context.storeTensor("frames.npy", new Tensor(shape, Tensors.clamp(clip, -1f, 1f))));
    }
}
