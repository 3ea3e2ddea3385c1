package mav.common.event;

/** Wall-clock milliseconds a stage spent on one job, split by phase. */
public record StageTiming(long fetchMs, long inferenceMs, long storeMs, long totalMs) {
}
