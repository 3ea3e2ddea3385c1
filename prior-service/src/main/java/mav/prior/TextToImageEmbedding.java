package mav.prior;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.Arrays;
import java.util.Map;
import mav.common.diffusion.ClassifierFreeGuidance;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.OnnxModel;
import mav.common.onnx.OrtSettings;
import mav.common.onnx.ModelLoadException;
import mav.common.stage.DiffusionStage;
import mav.common.stage.StageContext;
import mav.common.tensor.Tensor;
import mav.common.tensor.Tensors;

/**
 * P: prompt → BPE tokens → CLIP text embedding and token features → diffusion prior → CLIP image embedding.
 *
 * <p>As in DALL-E 2, the prior samples several candidate embeddings at once and keeps the one closest to the text
 * embedding. The unconditional branch of guidance is the zero condition the prior was trained with, or the
 * negative prompt's encoding when one is given. Its scale is the prior manifest's {@code default_guidance_scale}, not
 * the request's (that one guides the decoder): a prior guided past its trained scale gives embeddings away from those
 * of real images, and the decoder then draws the wrong colours.
 */
@ApplicationScoped
public class TextToImageEmbedding extends DiffusionStage {
    static final int CANDIDATES = 2;
    private PromptTokenizer tokenizer;
    private OnnxModel textEncoder;
    private OnnxModel prior;
    private int embedDim;
    private int maxLength;
    private double guidanceScale;

    @Override
    public StageName name() {
        return StageName.PRIOR;
    }

    @Override
    public void load(ModelRepository repository, String version, OrtSettings settings) {
        textEncoder = models.load(repository, "text_encoder", version, settings);
        prior = models.load(repository, "prior", version, settings);
        var spec = textEncoder.manifest().tokenizer();
        if (spec == null) {
            throw new ModelLoadException("text_encoder manifest has no tokenizer block");
        }
        tokenizer = new PromptTokenizer(textEncoder.dir().resolve(spec.file()), spec);
        embedDim = prior.manifest().intParameter("embed_dim");
        maxLength = tokenizer.maxLength();
        guidanceScale = prior.manifest().requireScheduler().defaultGuidanceScale();
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        // 1. encode the prompt (and the negative prompt), checking it fits before any model runs
        long[] ids = tokenizer.encode(request.prompt());
        long[] negativeIds = request.negativePrompt() == null ? null : tokenizer.encode(request.negativePrompt());
        Tensor[] text = context.infer(() -> encode(ids));
        Tensor[] negative = negativeIds == null ? null : context.infer(() -> encode(negativeIds));

        // 2. condition batch: CANDIDATES conditional rows, then CANDIDATES unconditional rows
        int b = CANDIDATES * 2;
        float[] textEmbed = Tensors.concat(Tensors.repeat(text[0].data(), CANDIDATES),
                negative == null ? new float[CANDIDATES * embedDim] : Tensors.repeat(negative[0].data(), CANDIDATES));
        float[] textTokens = Tensors.concat(Tensors.repeat(text[1].data(), CANDIDATES),
                negative == null ? new float[text[1].data().length * CANDIDATES]
                        : Tensors.repeat(negative[1].data(), CANDIDATES));
        Tensor embedT = new Tensor(new long[] {b, embedDim}, textEmbed);
        Tensor tokensT = new Tensor(new long[] {b, maxLength, text[1].dim(2)}, textTokens);

        // 3. denoise the candidates from the job's noise
        context.recordGuidanceScale(guidanceScale);
        float[] sample = denoise(prior, request, initialNoise(request, CANDIDATES, embedDim), (x, t) -> {
            Tensor in = new Tensor(new long[] {b, embedDim}, ClassifierFreeGuidance.duplicate(x));
            Map<String, Tensor> out = prior.run(new OnnxModel.Inputs()
                    .put("noisy_image_embed", in)
                    .putLong("timestep", new long[] {b}, Tensors.filled(b, t))
                    .put("text_embed", embedT)
                    .put("text_tokens", tokensT));
            return ClassifierFreeGuidance.combine(out.get("predicted_image_embed").data(), guidanceScale);
        }, context);

        // 4. keep the candidate closest to the text embedding, on the unit sphere the decoder was trained on:
        //    the prior diffuses the embedding scaled by sqrt(E), and guidance moves x0 off even that sphere
        float[] best = unit(closest(sample, text[0].data()));
        return Map.of("image_embed", context.storeTensor("image_embed.npy", new Tensor(new long[] {1, embedDim}, best)));
    }

    private Tensor[] encode(long[] ids) throws Exception {
        Map<String, Tensor> out = textEncoder.run(new OnnxModel.Inputs().putLong("input_ids",
                new long[] {1, ids.length}, ids));
        return new Tensor[] {out.get("text_embed"), out.get("text_tokens")};
    }

    private float[] closest(float[] candidates, float[] textEmbed) {
        float[] best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < CANDIDATES; c++) {
            float[] e = Arrays.copyOfRange(candidates, c * embedDim, (c + 1) * embedDim);
            double dot = 0;
            double norm = 1e-12;
            for (int i = 0; i < embedDim; i++) {
                dot += e[i] * textEmbed[i];
                norm += e[i] * e[i];
            }
            double score = dot / Math.sqrt(norm);
            if (score > bestScore) {
                bestScore = score;
                best = e;
            }
        }
        return best;
    }

    private static float[] unit(float[] e) {
        double norm = 0;
        for (float v : e) {
            norm += v * v;
        }
        float scale = (float) (1 / Math.sqrt(Math.max(norm, 1e-24)));
        float[] out = new float[e.length];
        for (int i = 0; i < e.length; i++) {
            out[i] = e[i] * scale;
        }
        return out;
    }
}
