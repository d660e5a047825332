package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorResponses;
import dev.tokenmarket.routing.Offer;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/**
 * Buyer: the OpenAI-compatible completion endpoints, whole or streamed as server-sent events. Matching
 * and the hold happen before the response starts, so their failures are plain HTTP statuses; a failure
 * after the stream started is an error event.
 */
@Path("/v1")
@Singleton
@Consumes(MediaType.APPLICATION_JSON)
@Produces({MediaType.APPLICATION_JSON, MediaType.SERVER_SENT_EVENTS})
public class CompletionsResource {

    public static final String GENERATION_ID_HEADER = "X-Generation-Id";
    /** The request's trace carries its generation id, so a trace is found from a buyer's X-Generation-Id. */
    private static final AttributeKey<String> GENERATION_ID_ATTRIBUTE = AttributeKey.stringKey("tokenmarket.generation_id");
    private static final Logger LOG = Logger.getLogger(CompletionsResource.class);

    @Inject
    SpotFlow spotFlow;

    @Inject
    CurrentCaller currentCaller;

    /** A comment line is sent when a stream was silent this long (a slow first token, a paced endpoint). */
    @ConfigProperty(name = "tokenmarket.gateway.keep-alive-interval", defaultValue = "PT10S")
    Duration keepAliveInterval;

    private final ScheduledExecutorService keepAliveTimer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sse-keep-alive");
        t.setDaemon(true);
        return t;
    });

    @PreDestroy
    void stop() {
        keepAliveTimer.shutdownNow();
    }

    @POST
    @Path("/completions")
    public Response completions(JsonNode body) {
        return respond(body, false);
    }

    @POST
    @Path("/chat/completions")
    public Response chatCompletions(JsonNode body) {
        return respond(body, true);
    }

    private Response respond(JsonNode body, boolean chat) {
        // The role is checked before the body, so a caller without it learns nothing about validation.
        Caller caller = currentCaller.get();
        caller.require(Role.BUYER);
        CompletionCall call = CompletionCall.parse(body, chat);
        SpotFlow.Purchase purchase = spotFlow.open(caller, call);
        String id = GenerationIds.format(purchase.generationId());
        Span.current().setAttribute(GENERATION_ID_ATTRIBUTE, id);
        if (!call.stream()) {
            SpotFlow.Completion completion = spotFlow.serve(purchase, TokenSink.NONE);
            return Response.ok(CompletionPayloads.whole(header(id, call, completion.offer(), completion.createdEpochSeconds()), completion),
                            MediaType.APPLICATION_JSON_TYPE)
                    .header(GENERATION_ID_HEADER, id).build();
        }
        long created = Instant.now().getEpochSecond();
        StreamingOutput stream = output -> {
            try (EventStream events = new EventStream(output, keepAliveTimer, keepAliveInterval.toMillis())) {
                // Chunks name the endpoint serving at the time: a fallback before the first token changes it.
                stream(purchase, () -> header(id, call, purchase.offer(), created), events);
            }
        };
        return Response.ok(stream, MediaType.SERVER_SENT_EVENTS_TYPE)
                .header(GENERATION_ID_HEADER, id)
                .header("Cache-Control", "no-cache")
                .header("X-Accel-Buffering", "no")
                .build();
    }

    private static CompletionPayloads.Header header(String id, CompletionCall call, Offer offer, long created) {
        return new CompletionPayloads.Header(id, call.chat(), created, offer.model(), offer.providerName(),
                offer.endpointId().toString());
    }

    /** Streams the tokens as they come, then the finish reasons, the usage with its cost, and [DONE]. */
    private void stream(SpotFlow.Purchase purchase, Supplier<CompletionPayloads.Header> header, EventStream events) {
        Set<Integer> started = new HashSet<>();
        int[] textOffset = new int[CompletionCall.CHOICES_MAX];
        TokenSink sink = (index, text, token) -> {
            // The first chunk of each choice carries the assistant role, as OpenAI's streams do.
            boolean first = started.add(index);
            boolean sent = events.data(CompletionPayloads.delta(header.get(), index, text, first, token, textOffset[index]));
            textOffset[index] += text.length();
            return sent;
        };
        SpotFlow.Completion completion;
        try {
            completion = spotFlow.serve(purchase, sink);
        } catch (MidStreamFailure e) {
            events.data(ErrorResponses.openAiError("upstream_failed", "api_error",
                    "The provider failed after the stream started: " + e.getMessage()
                            + ". The tokens already sent are billed.", null));
            return;
        } catch (ApiException e) {
            if (!events.started()) {
                // Nothing was sent yet (every candidate failed before its first token): a plain error status.
                throw e;
            }
            events.data(ErrorResponses.openAiError(e.code().code(), e.code().openAiType(), e.getMessage(), e.field()));
            return;
        } catch (RuntimeException e) {
            LOG.error("stream of " + header.get().id() + " failed", e);
            events.data(ErrorResponses.openAiError("internal_error", "api_error", "Internal error; the stream ended early.", null));
            return;
        }
        if (!events.open()) {
            return;
        }
        for (Served.Choice choice : completion.served().choices()) {
            events.data(CompletionPayloads.finish(header.get(), choice.index(), choice.finishReason()));
        }
        events.data(CompletionPayloads.usageChunk(header.get(), completion));
        events.done();
    }
}
