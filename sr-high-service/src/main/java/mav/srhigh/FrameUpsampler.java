package mav.srhigh;

import jakarta.enterprise.context.ApplicationScoped;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import mav.common.event.EventCodec;
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
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * SR_h: per-frame super-resolution from 256×256 to 768×768, without temporal layers (memory), every frame starting
 * from the SAME initial noise so that the detail it hallucinates stays put from frame to frame. Frames are
 * upsampled in small batches, kept as 8-bit RGB (76 frames at 768²: 134 MB) and encoded once the model is done, so
 * that the encoder never runs beside the model on the same cores; the stage writes the video, a poster frame and a
 * metadata file.
 */
@ApplicationScoped
public class FrameUpsampler extends DiffusionStage {
    private OnnxModel upsampler;
    private int height;
    private int width;

    @ConfigProperty(name = "sr-high.batch-frames", defaultValue = "4")
    int batchFrames;
    @ConfigProperty(name = "sr-high.ffmpeg", defaultValue = "ffmpeg")
    String ffmpeg;
    @ConfigProperty(name = "mav.max-job-seconds", defaultValue = "1800")
    int maxJobSeconds;

    @Override
    public StageName name() {
        return StageName.SR_HIGH;
    }

    @Override
    public void load(ModelRepository repository, String version, OrtSettings settings) {
        try {
            Mp4Encoder.requireFfmpeg(ffmpeg);
            // a replica killed mid-encode (kill -9, OOM-kill) could not delete its files; no job runs that long
            Mp4Encoder.deleteLeftovers(java.time.Duration.ofSeconds(maxJobSeconds));
        } catch (IllegalStateException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
        upsampler = models.load(repository, "sr_high", version, settings);
        height = upsampler.manifest().intParameter("height");
        width = upsampler.manifest().intParameter("width");
        upsampler.manifest().requireScheduler();
    }

    @Override
    public Map<String, String> run(StageEvent input, StageContext context) throws Exception {
        PromptRequest request = input.request();
        String jobId = request.jobId();
        // 1. the 256×256 clip, and the keyframe count that gives the output frame rate
        Tensor clip = context.fetchTensor("frames_256", 1, 3, -1, -1, -1);
        int keyframes = (int) context.fetchTensor("keyframes", 1, 3, -1, -1, -1).dim(2);
        int f = (int) clip.dim(2);
        int lowPlane = (int) (clip.dim(3) * clip.dim(4));
        double fps = request.fps() * (double) (f - 1) / Math.max(1, keyframes - 1);

        // 2. one initial noise for all frames
        int steps = steps(upsampler, request);
        int framePixels = 3 * height * width;
        float[] frameNoise = initialNoise(request, 3, height, width);
        int batches = (f + batchFrames - 1) / batchFrames;

        // 3. denoise batch by batch, then encode: the encoder's threads would compete with the model's for the cores
        List<byte[]> rgbFrames = new ArrayList<>(f);
        for (int b = 0; b < batches; b++) {
            int first = b * batchFrames;
            int n = Math.min(batchFrames, f - first);
            float[] low = new float[n * 3 * lowPlane];
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < 3; c++) {
                    System.arraycopy(clip.data(), (c * f + first + i) * lowPlane, low, (i * 3 + c) * lowPlane,
                            lowPlane);
                }
            }
            Tensor lowT = new Tensor(new long[] {n, 3, clip.dim(3), clip.dim(4)}, low);
            long[] shape = {n, 3, height, width};
            int done = b * steps;
            float[] frames = denoise(upsampler, request, Tensors.repeat(frameNoise, n), heldToCondition(upsampler,
                    lowT, (x, t) -> upsampler.run(new OnnxModel.Inputs()
                            .put("sample", new Tensor(shape, x))
                            .putLong("timestep", new long[] {n}, Tensors.filled(n, t))
                            .put("low_res", lowT)).get("noise_pred").data()),
                    context, (s, total) -> context.progress(done + s, batches * steps));
            for (int i = 0; i < n; i++) {
                rgbFrames.add(toRgb(frames, i * framePixels));
            }
        }
        byte[] poster = png(rgbFrames.get(0));
        Path mp4 = Files.createTempFile("mav-" + jobId + "-", ".mp4");
        byte[] video;
        // the encoder deletes the file when it closes; this covers an encoder that failed to start
        try (TempFile ignored = new TempFile(mp4);
                Mp4Encoder encoder = new Mp4Encoder(ffmpeg, width, height, fps, mp4)) {
            for (byte[] rgb : rgbFrames) {
                encoder.write(rgb);
            }
            video = encoder.finish();
        }

        // 4. video, poster, metadata
        String videoKey = "videos/" + jobId + ".mp4";
        String posterKey = "videos/" + jobId + ".png";
        String metadataKey = "videos/" + jobId + ".json";
        context.storeBytes(videoKey, video, "video/mp4");
        context.storeBytes(posterKey, poster, "image/png");
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("jobId", jobId);
        meta.put("request", request);
        meta.put("seed", request.seed());
        meta.put("video", Map.of("key", videoKey, "width", width, "height", height, "frames", f,
                "fps", fps, "codec", "h264", "pixelFormat", "yuv420p", "bytes", video.length));
        // every stage's record with this one's added as the runner will add it; this stage's timing stops before the
        // metadata is stored (the final event has its full timing)
        StageEvent record = input.next(name(), Map.of(), modelVersion(), context.timingSoFar(), context.sampling());
        meta.put("modelVersions", record.modelVersions());
        meta.put("timings", record.timings());
        // the settings each sampler applied: the request above leaves defaulted ones null
        meta.put("sampling", record.sampling());
        meta.put("artifacts", input.artifacts());
        context.storeBytes(metadataKey, EventCodec.toJson(meta).getBytes(StandardCharsets.UTF_8), "application/json");
        return Map.of("video", videoKey, "poster", posterKey, "metadata", metadataKey);
    }

    /** One frame of a [n, 3, H, W] batch in [-1, 1] as interleaved 8-bit RGB. */
    private byte[] toRgb(float[] frames, int offset) {
        int plane = height * width;
        byte[] rgb = new byte[plane * 3];
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) {
                float v = frames[offset + c * plane + p];
                int q = Math.round((Math.max(-1f, Math.min(1f, v)) + 1f) * 127.5f);
                rgb[p * 3 + c] = (byte) q;
            }
        }
        return rgb;
    }

    private byte[] png(byte[] rgb) throws java.io.IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = (y * width + x) * 3;
                img.setRGB(x, y, (rgb[p] & 0xff) << 16 | (rgb[p + 1] & 0xff) << 8 | (rgb[p + 2] & 0xff));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    /** Deletes a temporary file when closed, on every path out of the block that made it. */
    private record TempFile(Path path) implements AutoCloseable {
        @Override
        public void close() throws java.io.IOException {
            Files.deleteIfExists(path);
        }
    }
}
