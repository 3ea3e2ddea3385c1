package mav.decoder;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import mav.common.diffusion.ClassifierFreeGuidance;
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
 * D^t: the spatiotemporal decoder turns one CLIP image embedding into 16 keyframes at 64×64, conditioned on the
 * requested fps, with classifier-free guidance against the zero embedding.
 */
@ApplicationScoped
public class KeyframeDecoder implements PipelineStage {
    private final StageModels models = new StageModels();
    private OnnxModel decoder;
    private int frames;
    private int height;
    private int width;
    private int embedDim;

    @Override
    public StageName name() {
        return StageName.DECODER;
    }

    @Override
    public void load(ModelRepository repository, String version, OrtSettings settings) {
        decoder = models.load(repository, "decoder", version, settings);
        frames = decoder.manifest().intParameter("frames");
        height = decoder.manifest().intParameter("height");
        width = decoder.manifest().intParameter("width");
        embedDim = decoder.manifest().intParameter("embed_dim");
        decoder.manifest().requireScheduler();
    }

    @Override
    public String modelVersion() {
        return models.versionTag();
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. inputs: the image embedding, and the zero embedding for the unconditional branch
        Tensor embed = context.fetchTensor("image_embed").requireShape("image_embed", 1, embedDim);
        Tensor embeds = new Tensor(new long[] {2, embedDim}, Tensors.concat(embed.data(), new float[embedDim]));
        float[] fps = Tensors.filled(2, request.fps().floatValue());

        // 2. timesteps and initial noise
        SchedulerConfig sc = decoder.manifest().requireScheduler();
        DdimScheduler scheduler = DdimScheduler.of(sc);
        int steps = request.stepsFor(StageName.DECODER, sc.defaultSteps());
        long[] shape = {1, 3, frames, height, width};
        float[] noise = new GaussianNoise(request.seed(), "decoder").next(Math.toIntExact(Tensor.elementCount(shape)));

        // 3. denoise, guided conditional and unconditional passes in one batch
        long[] batched = {2, 3, frames, height, width};
        float[] video = context.infer(() -> DenoisingLoop.run(scheduler, steps, noise, (x, t) -> {
            Map<String, Tensor> out = decoder.run(new OnnxModel.Inputs()
                    .put("sample", new Tensor(batched, ClassifierFreeGuidance.duplicate(x)))
                    .putLong("timestep", new long[] {2}, Tensors.filled(2, t))
                    .put("image_embed", embeds)
                    .put("fps", new Tensor(new long[] {2}, fps)));
            return ClassifierFreeGuidance.combine(out.get("noise_pred").data(), request.guidanceScale());
        }, null, context::progress));

        // 4. keyframes in [-1, 1]
        Tensor keyframes = new Tensor(shape, Tensors.clamp(video, -1f, 1f));
        return Map.of("keyframes", context.storeTensor("keyframes.npy", keyframes));
    }
}
