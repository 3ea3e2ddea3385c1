package mav.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class PromMetricsTest {
    private static final String TEXT = """
            # HELP mav_stage_jobs_completed_total jobs whose output event was published
            # TYPE mav_stage_jobs_completed_total counter
            mav_stage_jobs_completed_total{stage="decoder"} 10.0
            mav_stage_jobs_failed_total{reason="invalid_event",stage="decoder"} 2.0
            mav_stage_jobs_failed_total{reason="internal",stage="decoder"} 1.0
            mav_stage_in_flight{stage="decoder"} 1.0
            mav_stage_job_seconds_bucket{stage="decoder",le="1.0"} 2.0
            mav_stage_job_seconds_bucket{stage="decoder",le="2.0"} 6.0
            mav_stage_job_seconds_bucket{stage="decoder",le="4.0"} 10.0
            mav_stage_job_seconds_bucket{stage="decoder",le="+Inf"} 10.0
            mav_stage_job_seconds_count{stage="decoder"} 10.0
            process_uptime_seconds 120.5
            """;

    @Test
    void sumsCountersAcrossLabels() {
        PromMetrics m = PromMetrics.parse(TEXT);
        assertEquals(10.0, m.sum("mav_stage_jobs_completed_total", Map.of("stage", "decoder")));
        assertEquals(3.0, m.sum("mav_stage_jobs_failed_total", Map.of("stage", "decoder")));
        assertEquals(0.0, m.sum("mav_stage_jobs_failed_total", Map.of("stage", "prior")));
        assertEquals(120.5, m.sum("process_uptime_seconds", Map.of()));
    }

    @Test
    void quantilesInterpolateWithinBuckets() {
        TreeMap<Double, Double> b = PromMetrics.parse(TEXT).buckets("mav_stage_job_seconds", Map.of("stage", "decoder"));
        assertEquals(4, b.size());
        assertEquals(1.75, PromMetrics.quantile(0.5, b), 1e-9); // rank 5 of 10: 3/4 into (1, 2]
        assertEquals(3.75, PromMetrics.quantile(0.95, b), 1e-9); // rank 9.5: 3.5/4 into (2, 4]
        assertTrue(Double.isNaN(PromMetrics.quantile(0.5, new TreeMap<>())));
    }

    @Test
    void stepsAcceptStageIdsStepsKeysAndOneNumber() {
        assertEquals(Map.of("prior", 2, "srLow", 3, "srHigh", 4), Mav.steps("prior=2,sr-low=3,srHigh=4"));
        assertEquals(5, Mav.steps("3").size());
        assertEquals(Map.of("prior", 1, "decoder", 1, "interpolation", 1, "srLow", 1, "srHigh", 1), Mav.steps("all=1"));
    }

    @Test
    void replicaPortsDoNotCollide() {
        assertEquals(8081, Stage.PRIOR.port(8081, 0));
        assertEquals(8085, Stage.SR_HIGH.port(8081, 0));
        assertEquals(8095, Stage.SR_HIGH.port(8081, 1));
    }
}
