package mav.decoder;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import mav.common.diffusion.ClassifierFreeGuidance;
import mav.common.diffusion.FrameNoise;
import mav.common.diffusion.GuidedHold;
import mav.common.diffusion.SchedulerConfig;
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
 * D^t: the spatiotemporal decoder turns one CLIP image embedding into 16 keyframes at 64×64, conditioned on the
 * requested fps, with classifier-free guidance against the zero embedding (the request's scale, else the manifest's
 * {@code default_guidance_scale}) inside the manifest's guidance interval; below it one conditional pass per step. A
 * guided step's x̂0 is held to the conditional pass's colour lines when the manifest asks ({@link GuidedHold}).
 */
@ApplicationScoped
public class KeyframeDecoder extends DiffusionStage {
    private OnnxModel decoder;
    private int frames;
    private int height;
    private int width;
    private int embedDim;
    private double frameNoiseCorrelation;
    private SchedulerConfig scheduler;
    private GuidedHold guidedHold;

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
        frameNoiseCorrelation = decoder.manifest().doubleParameter("frame_noise_correlation", 0.0);
        scheduler = decoder.manifest().requireScheduler();
        guidedHold = GuidedHold.of(scheduler);
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. inputs: the image embedding, and the zero embedding for the unconditional branch
        Tensor embed = context.fetchTensor("image_embed", 1, embedDim);
        Tensor embeds = new Tensor(new long[] {2, embedDim}, Tensors.concat(embed.data(), new float[embedDim]));
        Tensor fps = new Tensor(new long[] {2}, Tensors.filled(2, request.fps().floatValue()));
        Tensor fpsOne = new Tensor(new long[] {1}, Tensors.filled(1, request.fps().floatValue()));
        double guidanceScale = request.guidanceScaleOr(scheduler.defaultGuidanceScale());
        context.recordGuidanceScale(guidanceScale);

        // 2. denoise from the job's noise (its frames correlated by the manifest's ρ); a guided step runs the
        // conditional and unconditional passes in one batch, an unguided one the conditional pass alone
        long[] shape = {1, 3, frames, height, width};
        long[] batched = {2, 3, frames, height, width};
        float[] noise = FrameNoise.correlated(noise(request), 3, frames, height * width, frameNoiseCorrelation);
        float[] video = denoise(decoder, request, noise, (x, t) -> {
            if (!scheduler.guidedAt(t, guidanceScale)) {
                return decoder.run(new OnnxModel.Inputs()
                        .put("sample", new Tensor(shape, x))
                        .putLong("timestep", new long[] {1}, new long[] {t})
                        .put("image_embed", embed)
                        .put("fps", fpsOne)).get("noise_pred").data();
            }
            Map<String, Tensor> out = decoder.run(new OnnxModel.Inputs()
                    .put("sample", new Tensor(batched, ClassifierFreeGuidance.duplicate(x)))
                    .putLong("timestep", new long[] {2}, Tensors.filled(2, t))
                    .put("image_embed", embeds)
                    .put("fps", fps));
            float[] batchedOut = out.get("noise_pred").data();
            return guidedHold.apply(ClassifierFreeGuidance.combine(batchedOut, guidanceScale), batchedOut, x, shape, t);
        }, context);

        // 3. keyframes in [-1, 1]
        Tensor keyframes = new Tensor(shape, Tensors.clamp(video, -1f, 1f));
        return Map.of("keyframes", context.storeTensor("keyframes.npy", keyframes));
    }
}
