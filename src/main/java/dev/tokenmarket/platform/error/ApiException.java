package dev.tokenmarket.platform.error;

/** An expected failure to report to the caller; it never means a broken invariant. */
public final class ApiException extends RuntimeException {

    private final ErrorCode code;
    private final String field;
    private final Integer retryAfterSeconds;

    public ApiException(ErrorCode code, String message) {
        this(code, message, null);
    }

    public ApiException(ErrorCode code, String message, String field) {
        this(code, message, field, null);
    }

    private ApiException(ErrorCode code, String message, String field, Integer retryAfterSeconds) {
        super(message, null, false, false);
        this.code = code;
        this.field = field;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** A 429 that tells the client when to retry (the {@code Retry-After} header). */
    public static ApiException rateLimited(String message, int retryAfterSeconds) {
        return new ApiException(ErrorCode.RATE_LIMITED, message, null, Math.max(1, retryAfterSeconds));
    }

    /** Seconds after which a retry may succeed, or null. */
    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }

    public static ApiException invalid(String field, String message) {
        return new ApiException(ErrorCode.INVALID_REQUEST, message, field);
    }

    public ErrorCode code() {
        return code;
    }

    /** The request field at fault, or null. */
    public String field() {
        return field;
    }
}
