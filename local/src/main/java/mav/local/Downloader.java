package mav.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import mav.common.store.BlobStore;

/** Fetches a finished job's {@code videos/<job>.mp4}, {@code .png} and {@code .json} into a local directory. */
final class Downloader {
    private final BlobStore store;

    Downloader(Endpoints e) {
        store = BlobStore.connect(e.s3(), e.accessKey(), e.secretKey(), e.bucket());
    }

    /** Returns the files written, the MP4 first; the PNG and JSON are skipped when absent. */
    List<Path> download(String jobId, Path outDir) {
        List<Path> written = new ArrayList<>();
        try {
            Files.createDirectories(outDir);
            for (String ext : List.of("mp4", "png", "json")) {
                String key = "videos/" + jobId + "." + ext;
                if (!ext.equals("mp4") && !store.exists(key)) {
                    continue;
                }
                Path file = outDir.resolve(jobId + "." + ext).toAbsolutePath().normalize();
                Files.write(file, store.get(key));
                written.add(file);
            }
        } catch (IOException e) {
            throw new StackException("cannot write into " + outDir + ": " + e.getMessage(), e);
        }
        return written;
    }
}
