package mav.common.event;

/** An event that cannot be processed as it stands: malformed JSON, a missing field or an out-of-range value. */
public class InvalidEventException extends RuntimeException {
    public InvalidEventException(String message) {
        super(message);
    }

    public InvalidEventException(String message, Throwable cause) {
        super(message, cause);
    }
}
