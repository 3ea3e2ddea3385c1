package mav.common.event;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What a stage's sampler applied to one job, defaults resolved: a request that leaves steps or guidance to the
 * model gets its manifest's values, and this is where the job's record says which they were.
 *
 * @param steps         denoising steps run
 * @param guidanceScale classifier-free guidance scale; null for a stage without guidance
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SamplingSettings(int steps, Double guidanceScale) {
}
