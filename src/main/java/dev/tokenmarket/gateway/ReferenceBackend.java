package dev.tokenmarket.gateway;

import dev.tokenmarket.catalog.ReferenceModelNames;
import dev.tokenmarket.inference.InferenceException;
import dev.tokenmarket.inference.LlamaModel;
import dev.tokenmarket.inference.ModelConfig;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.inference.Tokenizer;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The embedded reference engine, loaded once at start-up and shared by every endpoint backed by
 * {@code reference}. Without a model file it serves a seeded synthetic model of the same shape under a
 * name that says so: it never pretends to be the real model.
 */
@Startup
@ApplicationScoped
public class ReferenceBackend implements ReferenceModelNames {

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

    private ReferenceEngine engine;

    @PostConstruct
    void load() {
        Path checkpointPath = Path.of(checkpoint);
        Path tokenizerPath = Path.of(tokenizer);
        if (Files.isRegularFile(checkpointPath) && Files.isRegularFile(tokenizerPath)) {
            LlamaModel model = LlamaModel.load(checkpointPath);
            engine = new ReferenceEngine(modelName, model, Tokenizer.load(tokenizerPath, model.config().vocabSize()), false);
            LOG.infof("reference engine serves '%s' from %s", modelName, checkpointPath.toAbsolutePath().normalize());
        } else {
            String syntheticName = modelName + "-synthetic";
            engine = new ReferenceEngine(syntheticName, LlamaModel.synthetic(STORIES_260K_SHAPE, SYNTHETIC_SEED),
                    Tokenizer.synthetic(STORIES_260K_SHAPE.vocabSize()), true);
            LOG.warnf("no model file at %s (or no tokenizer at %s): the reference engine serves a SYNTHETIC model "
                    + "with seeded random weights, listed as '%s'; its output is not meaningful text",
                    checkpointPath.toAbsolutePath().normalize(), tokenizerPath.toAbsolutePath().normalize(), syntheticName);
        }
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
