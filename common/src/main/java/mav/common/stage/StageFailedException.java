package mav.common.stage;

/** A job failed in a stage; the message names job, stage and cause, and is what the failed status carries. */
public class StageFailedException extends RuntimeException {
    public StageFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
