package mav.local;

/** Something about the local stack went wrong; the message is meant for the user, with the log tail when useful. */
class StackException extends RuntimeException {
    StackException(String message) {
        super(message);
    }

    StackException(String message, Throwable cause) {
        super(message, cause);
    }
}
