package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.Money;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Buyer: the OpenAI-compatible completion endpoints. */
@Path("/v1")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class CompletionsResource {

    public static final String GENERATION_ID_HEADER = "X-Generation-Id";

    @Inject
    SpotFlow spotFlow;

    @Inject
    CurrentCaller currentCaller;

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
        SpotFlow.Completion completion = spotFlow.complete(caller, call);
        String id = GenerationIds.format(completion.generationId());
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (call.chat()) {
            choice.put("message", Map.of("role", "assistant", "content", completion.served().text()));
        } else {
            choice.put("text", completion.served().text());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", completion.served().finishReason());
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("prompt_tokens", completion.served().promptTokens());
        usage.put("completion_tokens", completion.served().completionTokens());
        usage.put("total_tokens", completion.served().promptTokens() + completion.served().completionTokens());
        usage.put("cost", Money.formatUsd(completion.costNanoUsd()));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("id", id);
        answer.put("object", call.chat() ? "chat.completion" : "text_completion");
        answer.put("created", completion.createdEpochSeconds());
        answer.put("model", completion.offer().model());
        answer.put("provider", completion.offer().providerName());
        answer.put("endpoint_id", completion.offer().endpointId());
        answer.put("choices", List.of(choice));
        answer.put("usage", usage);
        return Response.ok(answer).header(GENERATION_ID_HEADER, id).build();
    }
}
