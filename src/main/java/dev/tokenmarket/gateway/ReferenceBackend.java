package dev.tokenmarket.gateway;

import dev.tokenmarket.catalog.ReferenceModelNames;
import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.GenerationOptions;
import dev.tokenmarket.inference.GenerationOutput;
import dev.tokenmarket.inference.GenerationRequest;
import dev.tokenmarket.inference.GenerationResult;
import dev.tokenmarket.inference.InferenceException;
import dev.tokenmarket.inference.LlamaModel;
import dev.tokenmarket.inference.ModelConfig;
import dev.tokenmarket.inference.ModelDownloader;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.inference.Tokenizer;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.Offer;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The embedded reference engine, loaded once at start-up and shared by every endpoint backed by
 * {@code reference}. Without a model file it serves a seeded synthetic model of the same shape under a
 * name that says so: it never pretends to be the real model.
 */
@Startup
@ApplicationScoped
public class ReferenceBackend implements Backend, ReferenceModelNames {

    private static final Logger LOG = Logger.getLogger(ReferenceBackend.class);
    /** The stories260K shape, used for the synthetic stand-in. */
    static final ModelConfig STORIES_260K_SHAPE = new ModelConfig(64, 172, 5, 8, 4, 512, 512, true);
    private static final long SYNTHETIC_SEED = 260_000L;

    @ConfigProperty(name = "tokenmarket.inference.model-name", defaultValue = "stories260k")
    String modelName;

    @ConfigProperty(name = "tokenmarket.inference.checkpoint")
    String checkpoint;

    @ConfigProperty(name = "tokenmarket.inference.tokenizer")
    String tokenizer;

    @ConfigProperty(name = "tokenmarket.data-dir", defaultValue = "data")
    String dataDirectory;

    @ConfigProperty(name = "tokenmarket.inference.download.enabled", defaultValue = "true")
    boolean downloadEnabled;

    @ConfigProperty(name = "tokenmarket.inference.download.checkpoint-url")
    URI checkpointUrl;

    @ConfigProperty(name = "tokenmarket.inference.download.checkpoint-sha256")
    String checkpointSha256;

    @ConfigProperty(name = "tokenmarket.inference.download.tokenizer-url")
    URI tokenizerUrl;

    @ConfigProperty(name = "tokenmarket.inference.download.tokenizer-sha256")
    String tokenizerSha256;

    @ConfigProperty(name = "tokenmarket.inference.download.connect-timeout", defaultValue = "5s")
    Duration connectTimeout;

    @ConfigProperty(name = "tokenmarket.inference.download.transfer-timeout", defaultValue = "10m")
    Duration transferTimeout;

    @ConfigProperty(name = "tokenmarket.inference.download.bytes-max", defaultValue = "1073741824")
    long downloadBytesMax;

    private ReferenceEngine engine;

    /**
     * Finds the model in this order: the configured local files; files downloaded earlier into the data
     * directory; a fresh download (when enabled); else the synthetic stand-in. The first two never touch
     * the network, so a machine with the shared model files (every developer and CI) starts without delay.
     */
    @PostConstruct
    void load() {
        Path checkpointPath = Path.of(checkpoint);
        Path tokenizerPath = Path.of(tokenizer);
        if (Files.isRegularFile(checkpointPath) && Files.isRegularFile(tokenizerPath)) {
            serve(checkpointPath, tokenizerPath);
            return;
        }
        String missing = "no model file at " + checkpointPath.toAbsolutePath().normalize() + " (or no tokenizer at "
                + tokenizerPath.toAbsolutePath().normalize() + ")";
        Path models = Path.of(dataDirectory).resolve("models");
        Path downloadedCheckpoint = models.resolve(fileName(checkpointUrl));
        Path downloadedTokenizer = models.resolve(fileName(tokenizerUrl));
        ModelDownloader downloader = new ModelDownloader(
                new ModelDownloader.Limits(connectTimeout, transferTimeout, downloadBytesMax));
        if (downloader.isPresent(checkpointSha256, downloadedCheckpoint)
                && downloader.isPresent(tokenizerSha256, downloadedTokenizer)) {
            serve(downloadedCheckpoint, downloadedTokenizer);
            return;
        }
        if (!downloadEnabled) {
            serveSynthetic(missing + ", none downloaded in " + models.toAbsolutePath().normalize()
                    + ", and tokenmarket.inference.download.enabled is false");
            return;
        }
        LOG.infof("%s: downloading the reference model from %s into %s", missing, checkpointUrl,
                models.toAbsolutePath().normalize());
        // The tokenizer is tried only once the checkpoint is in place: offline, one timeout is enough to wait.
        if (fetched(downloader, checkpointUrl, checkpointSha256, downloadedCheckpoint, missing)
                && fetched(downloader, tokenizerUrl, tokenizerSha256, downloadedTokenizer, missing)) {
            serve(downloadedCheckpoint, downloadedTokenizer);
        }
    }

    /** Downloads one file unless it is in place; on failure logs why and serves the synthetic model. */
    private boolean fetched(ModelDownloader downloader, URI url, String sha256, Path target, String missing) {
        ModelDownloader.Result result = downloader.ensure(url, sha256, target);
        if (result.outcome().available()) {
            LOG.infof("%s", result.message());
            return true;
        }
        // Being offline is an expected state of a laptop or CI machine; anything else needs a person.
        boolean offline = result.outcome() == ModelDownloader.Outcome.NO_NETWORK
                || result.outcome() == ModelDownloader.Outcome.TIMED_OUT;
        LOG.logf(offline ? Logger.Level.WARN : Logger.Level.ERROR,
                "could not download the reference model (%s): %s", result.outcome(), result.message());
        serveSynthetic(missing + " and the download failed (" + result.outcome() + ")");
        return false;
    }

    private void serve(Path checkpointPath, Path tokenizerPath) {
        LlamaModel model = LlamaModel.load(checkpointPath);
        engine = new ReferenceEngine(modelName, model, Tokenizer.load(tokenizerPath, model.config().vocabSize()), false);
        LOG.infof("reference engine serves '%s' from %s", modelName, checkpointPath.toAbsolutePath().normalize());
    }

    private void serveSynthetic(String why) {
        String syntheticName = modelName + "-synthetic";
        engine = new ReferenceEngine(syntheticName, LlamaModel.synthetic(STORIES_260K_SHAPE, SYNTHETIC_SEED),
                Tokenizer.synthetic(STORIES_260K_SHAPE.vocabSize()), true);
        LOG.warnf("%s: the reference engine serves a SYNTHETIC model with seeded random weights, listed as '%s'; "
                + "its output is not meaningful text", why, syntheticName);
    }

    /** The last segment of the URL's path, so each configured model keeps its own file name on disk. */
    static String fileName(URI url) {
        String path = url.getPath() == null ? "" : url.getPath();
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.isBlank() || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("model download URL must end with a file name: " + url);
        }
        return name;
    }

    public ReferenceEngine engine() {
        return engine;
    }

    @Override
    public boolean serves(String model) {
        return engine.modelName().equals(model);
    }

    @Override
    public List<String> names() {
        return List.of(engine.modelName());
    }

    @Override
    public int contextLength(String model) {
        return engine.contextLength();
    }

    @Override
    public String type() {
        return "reference";
    }

    /** Sized by the engine's own tokenizer and context: a request that cannot fit is refused before its hold. */
    @Override
    public Budget budget(CompletionCall call, String promptText) {
        int promptTokens;
        try {
            promptTokens = engine.countTokens(promptText);
        } catch (InferenceException e) {
            throw toApiError(e);
        }
        int maxTokens = call.maxTokens() != null ? call.maxTokens() : engine.contextLength() - promptTokens;
        if (promptTokens >= engine.contextLength() || promptTokens + maxTokens > engine.contextLength()) {
            throw new ApiException(ErrorCode.CONTEXT_LENGTH_EXCEEDED, "This model's context is " + engine.contextLength()
                    + " tokens; the prompt has " + promptTokens + " and max_tokens asks for " + maxTokens
                    + ". Shorten the prompt or lower max_tokens.", call.maxTokens() != null ? "max_tokens" : "prompt");
        }
        return new Budget(promptTokens, maxTokens);
    }

    /**
     * Runs the n choices on the engine one after the other, streaming each token to the sink; the prompt is
     * billed once. A sink that refuses a token (the client left) stops the generation.
     */
    @Override
    @WithSpan("reference engine")
    public Served serve(Offer offer, CompletionCall call, String promptText, int maxTokens, TokenSink sink, long startedNanos) {
        long[] firstTokenNanos = {0};
        boolean[] cancelled = {false};
        List<Served.Choice> choices = new ArrayList<>();
        int promptTokens = 0;
        int completionTokens = 0;
        GenerationOptions options = new GenerationOptions(call.presencePenalty(), call.frequencyPenalty(), call.logprobs(),
                call.topLogprobs(), offer.backendTokensPerSecondMax());
        for (int index = 0; index < call.n() && !cancelled[0]; index++) {
            int choiceIndex = index;
            // Each choice gets its own seed, else n choices of a seeded request would all be the same text.
            Long seed = call.seed() == null ? null : call.seed() + index;
            GenerationOutput output;
            try {
                output = engine.generate(
                        new GenerationRequest(promptText, maxTokens, call.temperature(), call.topP(), call.topK(), seed, call.stop()),
                        options,
                        token -> {
                            if (firstTokenNanos[0] == 0) {
                                firstTokenNanos[0] = System.nanoTime() - startedNanos;
                            }
                            if (token.text().isEmpty() && !call.logprobs()) {
                                return true;
                            }
                            if (!sink.accept(choiceIndex, token.text(), call.logprobs() && token.tokenId() >= 0 ? token : null)) {
                                cancelled[0] = true;
                                return false;
                            }
                            return true;
                        });
            } catch (InferenceException e) {
                throw toApiError(e);
            }
            GenerationResult result = output.result();
            promptTokens = result.promptTokens();
            completionTokens += result.completionTokens();
            List<GeneratedToken> tokens = call.logprobs()
                    ? output.tokens().stream().filter(t -> t.tokenId() >= 0).toList() : List.of();
            choices.add(new Served.Choice(index, result.text(), result.finishReason(), tokens));
        }
        long ttft = firstTokenNanos[0] == 0 ? System.nanoTime() - startedNanos : firstTokenNanos[0];
        return new Served(choices, promptTokens, completionTokens, ttft, cancelled[0]);
    }

    /** Maps the engine's validation failures to API errors naming the field. */
    static ApiException toApiError(InferenceException e) {
        return switch (e.reason()) {
            case PROMPT_TOO_LONG -> new ApiException(
                    ErrorCode.CONTEXT_LENGTH_EXCEEDED, e.getMessage(), "max_tokens");
            case INVALID_PARAMETER -> ApiException.invalid(null, e.getMessage());
            case OVERLOADED -> new ApiException(ErrorCode.RATE_LIMITED, e.getMessage());
            default -> new ApiException(ErrorCode.UPSTREAM_FAILED, e.getMessage());
        };
    }
}
