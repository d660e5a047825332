package dev.tokenmarket.inference;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Runs generations against one model. Thread-safe: any number of threads may call
 * {@link #generate} at once. They share the immutable {@link LlamaModel}; each generation gets its
 * own KV cache and sampler, and a {@link BatchScheduler} thread steps all of them together
 * (continuous batching). {@code generate} blocks its caller and runs the listener on the caller's
 * thread. The scheduler thread starts with the first generation; {@link #close} stops it.
 */
public final class ReferenceEngine implements AutoCloseable {

    /** Stop sequences per request and characters per stop sequence, as in the OpenAI API. */
    public static final int STOP_SEQUENCES_MAX = 4;
    public static final int STOP_SEQUENCE_CHARS_MAX = 256;
    /** Upper bound on temperature; beyond it sampling is uniform noise anyway. */
    public static final double TEMPERATURE_MAX = 100.0;

    private final String modelName;
    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final boolean synthetic;
    private final ModelConfig config;
    private final EngineOptions engineOptions;
    private BatchScheduler scheduler;
    private boolean closed;

    /** An engine with {@link EngineOptions#defaults()}. */
    public ReferenceEngine(String modelName, LlamaModel model, Tokenizer tokenizer, boolean synthetic) {
        this(modelName, model, tokenizer, synthetic, EngineOptions.defaults());
    }

    public ReferenceEngine(String modelName, LlamaModel model, Tokenizer tokenizer, boolean synthetic,
                           EngineOptions engineOptions) {
        if (modelName == null || modelName.isBlank()) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER, "modelName must not be blank");
        }
        if (tokenizer.vocabSize() != model.config().vocabSize()) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT, "tokenizer has "
                    + tokenizer.vocabSize() + " tokens but the model has vocab_size " + model.config().vocabSize());
        }
        this.modelName = modelName;
        this.model = model;
        this.tokenizer = tokenizer;
        this.synthetic = synthetic;
        this.config = model.config();
        this.engineOptions = engineOptions;
    }

    public EngineOptions engineOptions() {
        return engineOptions;
    }

    /** Name of the numeric kernels in use ("vector-256bit" or "scalar"). */
    public String kernelsName() {
        return Kernels.best().name();
    }

    /** Counters of the scheduler; all zero before the first generation. */
    public synchronized EngineStats stats() {
        return scheduler == null ? new EngineStats(0, 0, 0, 0, 0) : scheduler.stats();
    }

    private synchronized BatchScheduler scheduler() {
        if (closed) {
            throw new IllegalStateException("engine " + modelName + " is closed");
        }
        if (scheduler == null) {
            scheduler = new BatchScheduler(model, engineOptions, modelName);
        }
        return scheduler;
    }

    /** Stops the scheduler thread; generations still running fail, later calls are refused. */
    @Override
    public synchronized void close() {
        closed = true;
        if (scheduler != null) {
            scheduler.close();
            scheduler = null;
        }
    }

    public String modelName() {
        return modelName;
    }

    public boolean synthetic() {
        return synthetic;
    }

    /** Context window in tokens, prompt (with BOS) and completion together. */
    public int contextLength() {
        return config.seqLen();
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaModel model() {
        return model;
    }

    /** Prompt tokens including BOS, exactly as {@link #generate} counts them. */
    public int countTokens(String prompt) {
        return encodePrompt(prompt).length;
    }

    /** Generates with default options, delivering text pieces to the listener. */
    public GenerationResult generate(GenerationRequest request, TokenListener listener) {
        TokenListener target = listener == null ? TokenListener.IGNORE : listener;
        TokenStreamListener adapter = token -> token.text().isEmpty() || target.onToken(token.text());
        return run(request, GenerationOptions.DEFAULTS, adapter, false).result();
    }

    /** Generates with extra options; returns every token with its log-probabilities when requested. */
    public GenerationOutput generate(GenerationRequest request, GenerationOptions options,
                                     TokenStreamListener listener) {
        return run(request, options == null ? GenerationOptions.DEFAULTS : options,
                listener == null ? token -> true : listener, true);
    }

    private GenerationOutput run(GenerationRequest request, GenerationOptions options, TokenStreamListener listener,
                                 boolean keepTokens) {
        Admission admission = admit(request, options);
        int[] prompt = admission.promptTokens();
        CompletionAssembler assembler = new CompletionAssembler(tokenizer, prompt[prompt.length - 1],
                admission.completionMax(), admission.stops(), listener, keepTokens);
        BatchScheduler.Handle handle = scheduler().submit(new BatchScheduler.Submission(prompt,
                admission.completionMax(), request, options, admission.seed()));
        try {
            while (assembler.finishReason() == null) {
                Object event = handle.take();
                if (event instanceof BatchScheduler.FailureEvent failure) {
                    throw new IllegalStateException("generation failed: " + failure.cause().getMessage(),
                            failure.cause());
                }
                BatchScheduler.TokenEvent token = (BatchScheduler.TokenEvent) event;
                if (assembler.accept(token.token(), token.logprob(), token.topTokens(), token.topLogprobs()) != null) {
                    // Stop sequences and cancellation end the sequence here; free its slot before anything else.
                    handle.cancel();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            assembler.finish(GenerationResult.CANCELLED);
        } finally {
            handle.cancel();
        }
        GenerationResult result = new GenerationResult(assembler.text(), prompt.length,
                assembler.completionCount(), assembler.finishReason());
        return new GenerationOutput(result, List.copyOf(assembler.generated()));
    }

    /** A validated request: its prompt tokens, completion budget, stop sequences and seed. */
    record Admission(int[] promptTokens, int completionMax, List<String> stops, long seed) {
    }

    /** Validates everything before any compute; the messages name the offending field. */
    Admission admit(GenerationRequest request, GenerationOptions options) {
        if (request == null) {
            throw invalid("request must not be null");
        }
        if (!(request.temperature() >= 0 && request.temperature() <= TEMPERATURE_MAX)) {
            throw invalid("temperature is " + request.temperature() + ", must be between 0 and " + TEMPERATURE_MAX);
        }
        if (!(request.topP() > 0 && request.topP() <= 1)) {
            throw invalid("top_p is " + request.topP() + ", must be greater than 0 and at most 1");
        }
        if (request.topK() < 0) {
            throw invalid("top_k is " + request.topK() + ", must be 0 (off) or positive");
        }
        options.validate();
        List<String> stops = request.stop() == null ? List.of() : request.stop();
        if (stops.size() > STOP_SEQUENCES_MAX) {
            throw invalid("stop has " + stops.size() + " sequences, at most " + STOP_SEQUENCES_MAX + " are allowed");
        }
        for (int i = 0; i < stops.size(); i++) {
            String stop = stops.get(i);
            if (stop == null || stop.isEmpty() || stop.length() > STOP_SEQUENCE_CHARS_MAX) {
                throw invalid("stop[" + i + "] must be a non-empty string of at most " + STOP_SEQUENCE_CHARS_MAX
                        + " characters");
            }
        }
        int[] promptTokens = encodePrompt(request.prompt());
        int promptCount = promptTokens.length;
        int seqLen = config.seqLen();
        if (promptCount >= seqLen) {
            throw new InferenceException(InferenceException.Reason.PROMPT_TOO_LONG, "prompt is " + promptCount
                    + " tokens (including BOS) but the context length of model " + modelName + " is " + seqLen
                    + " tokens, leaving no room for a completion");
        }
        int completionMax = request.maxTokens() <= 0 ? seqLen - promptCount : request.maxTokens();
        if ((long) promptCount + completionMax > seqLen) {
            throw new InferenceException(InferenceException.Reason.PROMPT_TOO_LONG, "prompt (" + promptCount
                    + " tokens) plus max_tokens (" + completionMax + ") is " + ((long) promptCount + completionMax)
                    + " tokens, more than the context length " + seqLen + " of model " + modelName
                    + "; lower max_tokens to at most " + (seqLen - promptCount));
        }
        long seed = request.seed() != null ? request.seed() : ThreadLocalRandom.current().nextLong();
        return new Admission(promptTokens, completionMax, List.copyOf(stops), seed);
    }

    private int[] encodePrompt(String prompt) {
        if (prompt == null) {
            throw invalid("prompt must not be null");
        }
        // A token covers at most pieceBytesMax bytes and a char at least one byte, so longer prompts cannot fit;
        // refusing them before encoding bounds the quadratic merge loop.
        long charsMax = (long) config.seqLen() * tokenizer.pieceBytesMax();
        if (prompt.length() > charsMax) {
            throw new InferenceException(InferenceException.Reason.PROMPT_TOO_LONG, "prompt is " + prompt.length()
                    + " characters, which cannot fit the context length of " + config.seqLen() + " tokens of model "
                    + modelName);
        }
        return tokenizer.encode(prompt, true, false);
    }

    private static InferenceException invalid(String message) {
        return new InferenceException(InferenceException.Reason.INVALID_PARAMETER, message);
    }
}
