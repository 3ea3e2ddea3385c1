package mav.common.stage;

import java.util.Map;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.OrtSettings;

/**
 * The model work of one pipeline stage. Each service supplies exactly one bean of this type; the shared
 * {@link StageProcessor} and {@link StageRunner} do the messaging, storage, status, metrics and failure handling
 * around it.
 */
public interface PipelineStage {

    StageName name();

    /**
     * Loads the stage's models; called once, off the event loop, before the service consumes anything.
     *
     * @throws mav.common.onnx.ModelLoadException when a model is missing, breaks its contract or cannot run on the
     *                                            configured provider
     */
    void load(ModelRepository repository, String version, OrtSettings settings);

    /** Model versions this stage ran with, e.g. {@code decoder/1}; several joined by '+'. */
    String modelVersion();

    /**
     * Runs the stage for one job.
     *
     * @return the artifacts it wrote, name to object key, which the next event carries
     */
    Map<String, String> run(StageEvent input, StageContext context) throws Exception;
}
