package mav.common.stage;

/**
 * The job was cancelled: its cancel marker ({@link #markerKey(String)}) exists in the object store. Thrown at the
 * start of a record and at a denoising step boundary; {@link StageRunner} turns it into one {@code cancelled}
 * status, with no output event and no dead letter.
 */
public final class JobCancelledException extends RuntimeException {
    private final String jobId;

    public JobCancelledException(String jobId, String stage) {
        super("job " + jobId + " was cancelled; stage " + stage + " stopped (marker " + markerKey(jobId) + ")");
        this.jobId = jobId;
    }

    public String jobId() {
        return jobId;
    }

    /** The object whose presence cancels a job, written by whoever cancels it (the gateway's DELETE). */
    public static String markerKey(String jobId) {
        return "jobs/" + jobId + "/cancelled";
    }
}
