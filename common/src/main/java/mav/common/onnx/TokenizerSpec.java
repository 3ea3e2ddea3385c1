package mav.common.onnx;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** How a text encoder expects its ids: the tokenizer file beside the model, padding and special ids. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record TokenizerSpec(
        String file,
        @JsonProperty("max_length") int maxLength,
        @JsonProperty("pad_id") long padId,
        @JsonProperty("bos_id") long bosId,
        @JsonProperty("eos_id") long eosId) {
}
