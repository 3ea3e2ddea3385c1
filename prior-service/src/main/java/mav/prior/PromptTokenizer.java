package mav.prior;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import mav.common.event.InvalidEventException;
import mav.common.onnx.ModelLoadException;
import mav.common.onnx.TokenizerSpec;

/**
 * The BPE tokenizer the text encoder was trained with (a Hugging Face {@code tokenizer.json}), framed the way the
 * encoder expects: {@code [bos] tokens [eos] pad…} to a fixed length. Prompts that do not fit are refused, not cut.
 */
public final class PromptTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final TokenizerSpec spec;

    public PromptTokenizer(Path file, TokenizerSpec spec) {
        try {
            this.tokenizer = HuggingFaceTokenizer.newInstance(file);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
        this.spec = spec;
    }

    public int maxLength() {
        return spec.maxLength();
    }

    /**
     * @throws InvalidEventException if the text has more than {@code max_length − 2} tokens
     */
    public long[] encode(String text) {
        Encoding encoding = tokenizer.encode(text, false, false);
        long[] tokens = encoding.getIds();
        int room = spec.maxLength() - 2;
        if (tokens.length > room) {
            throw new InvalidEventException("prompt has " + tokens.length + " tokens, at most " + room
                    + " fit the text encoder");
        }
        long[] ids = new long[spec.maxLength()];
        Arrays.fill(ids, spec.padId());
        ids[0] = spec.bosId();
        System.arraycopy(tokens, 0, ids, 1, tokens.length);
        ids[tokens.length + 1] = spec.eosId();
        return ids;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
