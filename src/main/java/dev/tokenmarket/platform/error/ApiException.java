package dev.tokenmarket.platform.error;

/** An expected failure to report to the caller; it never means a broken invariant. */
public final class ApiException extends RuntimeException {

    private final ErrorCode code;
    private final String field;

    public ApiException(ErrorCode code, String message) {
        this(code, message, null);
    }

    public ApiException(ErrorCode code, String message, String field) {
        super(message, null, false, false);
        this.code = code;
        this.field = field;
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
