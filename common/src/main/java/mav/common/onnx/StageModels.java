package mav.common.onnx;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** The models one stage loads, closed together and named together in events ({@code text_encoder/1+prior/1}). */
public final class StageModels implements AutoCloseable {
    private final List<OnnxModel> models = new ArrayList<>();

    public OnnxModel load(ModelRepository repository, String model, String version, OrtSettings settings) {
        OnnxModel m = OnnxModel.load(repository.versionDir(model, version), settings);
        models.add(m);
        return m;
    }

    public String versionTag() {
        return models.stream().map(OnnxModel::versionTag).collect(Collectors.joining("+"));
    }

    @Override
    public void close() {
        models.forEach(OnnxModel::close);
        models.clear();
    }
}
