package dev.tokenmarket.catalog;

import java.util.ArrayList;
import java.util.List;

/**
 * The optional request parameters an endpoint's backend may or may not accept. An OpenAI-compatible
 * upstream is sent only the ones its endpoint lists (OpenAI's own server answers 400 to {@code top_k}, vLLM
 * takes it); a buyer who needs them honoured routes with {@code provider.require_parameters}. Sets of them
 * are bit masks, so that matching checks one against thousands of offers for the cost of an AND.
 * {@code max_tokens} is not among them: every backend is sent it, because the request's hold is sized by it.
 */
public enum SamplingParameter {
    TEMPERATURE("temperature"),
    TOP_P("top_p"),
    TOP_K("top_k"),
    STOP("stop"),
    SEED("seed"),
    PRESENCE_PENALTY("presence_penalty"),
    FREQUENCY_PENALTY("frequency_penalty"),
    LOGPROBS("logprobs"),
    TOP_LOGPROBS("top_logprobs"),
    N("n"),
    USER("user");

    /** Every parameter: what the reference engine accepts. */
    public static final long ALL = maskOf(values());
    /** What an OpenAI-compatible upstream is assumed to accept unless its endpoint says otherwise: OpenAI's own set. */
    public static final long OPENAI_DEFAULT = ALL & ~TOP_K.bit();

    /** The name in request bodies and in an endpoint's {@code supported_parameters}. */
    private final String wireName;

    SamplingParameter(String wireName) {
        this.wireName = wireName;
    }

    public long bit() {
        return 1L << ordinal();
    }

    public boolean in(long mask) {
        return (mask & bit()) != 0;
    }

    /** The parameter with this wire name, or null. */
    public static SamplingParameter byWireName(String name) {
        for (SamplingParameter p : values()) {
            if (p.wireName.equals(name)) {
                return p;
            }
        }
        return null;
    }

    private static long maskOf(SamplingParameter... parameters) {
        long mask = 0;
        for (SamplingParameter p : parameters) {
            mask |= p.bit();
        }
        return mask;
    }

    /**
     * What a backend accepts: every parameter for the reference engine; for an upstream, the names its
     * endpoint lists, or OpenAI's set when it lists none. Unknown names (the database refuses them) are skipped.
     */
    public static long supportedBy(String backendType, String[] listed) {
        if ("reference".equals(backendType)) {
            return ALL;
        }
        if (listed == null) {
            return OPENAI_DEFAULT;
        }
        long mask = 0;
        for (String name : listed) {
            SamplingParameter p = byWireName(name);
            if (p != null) {
                mask |= p.bit();
            }
        }
        return mask;
    }

    /** {@link #supportedBy(String, String[])} with the list as a column of the endpoints table reads it. */
    public static long supportedBy(String backendType, java.sql.Array listed) throws java.sql.SQLException {
        return supportedBy(backendType, listed == null ? null : (String[]) listed.getArray());
    }

    /** The wire names in a mask, in declaration order. */
    public static List<String> wireNames(long mask) {
        List<String> names = new ArrayList<>();
        for (SamplingParameter p : values()) {
            if (p.in(mask)) {
                names.add(p.wireName);
            }
        }
        return names;
    }

    /** Every wire name, for error messages. */
    public static String known() {
        return String.join(", ", wireNames(ALL));
    }
}
