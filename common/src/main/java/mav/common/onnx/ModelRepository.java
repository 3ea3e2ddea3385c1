package mav.common.onnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * A model repository laid out like Triton's: {@code <root>/<model>/<version>/model.onnx} beside
 * {@code manifest.json}. Versions are positive integers; "latest" picks the highest.
 */
public final class ModelRepository {
    private final Path root;

    public ModelRepository(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    /** The directory of {@code model} at {@code version} ("latest" or a number). */
    public Path versionDir(String model, String version) {
        Path modelDir = root.resolve(model);
        if (!Files.isDirectory(modelDir)) {
            throw new ModelLoadException("no model '" + model + "' in repository " + root.toAbsolutePath());
        }
        if (!"latest".equals(version)) {
            Path dir = modelDir.resolve(version);
            if (!Files.isRegularFile(dir.resolve("model.onnx"))) {
                throw new ModelLoadException("no " + model + "/" + version + "/model.onnx in " + root.toAbsolutePath());
            }
            return dir;
        }
        try (Stream<Path> dirs = Files.list(modelDir)) {
            return dirs.filter(d -> d.getFileName().toString().matches("\\d+"))
                    .filter(d -> Files.isRegularFile(d.resolve("model.onnx")))
                    .max((a, b) -> Long.compare(Long.parseLong(a.getFileName().toString()),
                            Long.parseLong(b.getFileName().toString())))
                    .orElseThrow(() -> new ModelLoadException("model '" + model + "' has no version with a model.onnx in "
                            + modelDir.toAbsolutePath()));
        } catch (IOException e) {
            throw new ModelLoadException("cannot list " + modelDir + ": " + e.getMessage(), e);
        }
    }
}
