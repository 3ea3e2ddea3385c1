package mav.gateway;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Map;
import mav.common.event.PromptRequest;

/**
 * The body of {@code POST /v1/videos}; fields are snake_case as in the Videos APIs clients know.
 *
 * @param id          optional client job id; a generated {@code video_<hex>} when absent
 * @param steps       optional steps per stage, keyed prior, decoder, interpolation, srLow, srHigh
 * @param callbackUrl optional http(s) URL that gets the job object, signed, when the job ends
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SubmitRequest(
        String prompt,
        String negativePrompt,
        Long seed,
        Integer fps,
        Double guidanceScale,
        Map<String, Integer> steps,
        String id,
        String callbackUrl) {

    PromptRequest toPromptRequest(String jobId) {
        return new PromptRequest(jobId, prompt, negativePrompt, seed, fps, guidanceScale, steps);
    }

    /** The API's name for the field an {@link PromptRequest#validate()} message starts with. */
    static String apiField(String validationMessage) {
        String first = validationMessage.split("[ ]", 2)[0];
        return switch (first) {
            case "jobId" -> "id";
            case "negativePrompt" -> "negative_prompt";
            case "guidanceScale" -> "guidance_scale";
            default -> first;
        };
    }
}
