package dev.tokenmarket.platform;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;

import java.util.Collection;

/**
 * A request's trace context carried past a thread and a process: written down as a W3C {@code traceparent}
 * ({@code 00-<trace id>-<span id>-<flags>}) with the request's usage event, sent with it as a Kafka record
 * header of that name, and turned back into a link by the spans that relay and settle it. Those spans work
 * on batches of many requests, so each links to the requests' traces rather than continuing one of them
 * (the OpenTelemetry messaging conventions for batch processing).
 */
public final class TraceParents {

    /** The Kafka header, and the column, that carry it. */
    public static final String HEADER = "traceparent";
    /** Links kept per batch span: the SDK's default limit; a batch's first events stand for the rest. */
    private static final int LINKS_MAX = 128;

    private TraceParents() {
    }

    /** The current span's traceparent, or null when nothing is traced (the SDK off, or not sampled). */
    public static String current() {
        SpanContext context = Span.current().getSpanContext();
        if (!context.isValid() || !context.isSampled()) {
            return null;
        }
        return "00-" + context.getTraceId() + "-" + context.getSpanId() + "-" + context.getTraceFlags().asHex();
    }

    /** The span context a traceparent names, or null when it is not one (absent, another version, malformed). */
    public static SpanContext parse(String traceParent) {
        if (traceParent == null || traceParent.length() != 55 || !traceParent.startsWith("00-")
                || traceParent.charAt(35) != '-' || traceParent.charAt(52) != '-') {
            return null;
        }
        SpanContext context = SpanContext.createFromRemoteParent(traceParent.substring(3, 35), traceParent.substring(36, 52),
                TraceFlags.fromHex(traceParent, 53), TraceState.getDefault());
        return context.isValid() ? context : null;
    }

    /** Adds a link to each traceparent's span (the first {@value #LINKS_MAX}); nulls and malformed ones are left out. */
    public static SpanBuilder linkAll(SpanBuilder span, Collection<String> traceParents) {
        int linked = 0;
        for (String traceParent : traceParents) {
            SpanContext context = parse(traceParent);
            if (context != null) {
                span.addLink(context);
                if (++linked == LINKS_MAX) {
                    break;
                }
            }
        }
        return span;
    }
}
