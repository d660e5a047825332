package dev.tokenmarket.inference.bench;

import dev.tokenmarket.inference.EngineOptions;
import dev.tokenmarket.inference.GenerationRequest;
import dev.tokenmarket.inference.GenerationResult;
import dev.tokenmarket.inference.LlamaModel;
import dev.tokenmarket.inference.ModelConfig;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.inference.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Measures generation speed in tokens per second: one stream on one thread, one stream on all
 * cores, and the aggregate of 4, 16 and 64 concurrent streams (continuous batching on all cores),
 * for stories260K and a random-weight model of the stories15M shape, in fp32 and int8.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp ... dev.tokenmarket.inference.bench.EngineBenchmark
 *      [--models DIR] [--tokens N] [--streams 4,16,64] [--only 260K|15M] [--precision fp32|int8]
 * </pre>
 * Each stream generates greedily from BOS for N tokens (default 255, llama2.c's steps=256); a
 * stream may end earlier on EOS, and only tokens actually generated are counted. Every
 * configuration is warmed up for two seconds, then measured over at least three seconds.
 */
public final class EngineBenchmark {

    private record Model(String name, LlamaModel model, Tokenizer tokenizer) {
    }

    /** A one-token prompt (after BOS) present in every vocabulary used here. */
    private static final String PROMPT = "";
    private static final long WARMUP_NANOS = 2_000_000_000L;
    private static final long MEASURE_NANOS = 3_000_000_000L;

    private EngineBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path models = Path.of("../shared/models");
        int tokens = 0;
        int[] streams = {4, 16, 64};
        String only = null;
        String precision = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--models" -> models = Path.of(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--streams" -> streams = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt)
                        .toArray();
                case "--only" -> only = args[++i];
                case "--precision" -> precision = args[++i];
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
        }
        int cores = Runtime.getRuntime().availableProcessors();
        List<Model> candidates = new ArrayList<>();
        if (only == null || only.equals("260K")) {
            Path checkpoint = models.resolve("stories260K.bin");
            if (Files.exists(checkpoint)) {
                LlamaModel model = LlamaModel.load(checkpoint);
                Tokenizer tokenizer = Tokenizer.load(models.resolve("tok512.bin"), 512);
                candidates.add(new Model("stories260K", model, tokenizer));
            } else {
                System.out.println("skipping stories260K: " + checkpoint + " not found");
            }
        }
        if (only == null || only.equals("15M")) {
            ModelConfig shape = CheckpointGenerator.STORIES_15M_SHAPE;
            candidates.add(new Model("synthetic-15M-shape", LlamaModel.synthetic(shape, 42L),
                    Tokenizer.synthetic(shape.vocabSize())));
        }
        System.out.printf(Locale.ROOT, "cores=%d, java=%s, vector module present=%s%n", cores,
                Runtime.version(), ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent());
        System.out.printf(Locale.ROOT, "%-22s %-5s %-26s %8s %10s%n", "model", "prec", "configuration", "tokens",
                "tok/s");
        for (Model candidate : candidates) {
            for (String p : new String[] {"fp32", "int8"}) {
                if (precision != null && !precision.equals(p)) {
                    continue;
                }
                LlamaModel model = p.equals("fp32") ? candidate.model() : candidate.model().quantizeQ8(32);
                int perStream = tokens > 0 ? tokens : Math.min(255, model.config().seqLen() - 1);
                Model m = new Model(candidate.name(), model, candidate.tokenizer());
                timeToFirstToken(m, p, cores);
                run(m, p, "1 stream, 1 thread", 1, 1, perStream);
                run(m, p, "1 stream, " + cores + " threads", cores, 1, perStream);
                for (int n : streams) {
                    run(m, p, n + " streams, " + cores + " threads", cores, n, perStream);
                }
            }
        }
    }

    private static void run(Model m, String precision, String label, int threads, int streams, int perStream)
            throws Exception {
        EngineOptions options = new EngineOptions(threads, Math.max(streams, 1), Math.max(512, streams), 1_024);
        try (ReferenceEngine engine = new ReferenceEngine(m.name(), m.model(), m.tokenizer(), true, options)) {
            // Warm-up until the JIT has compiled the hot loops, then measure for at least MEASURE_NANOS.
            long warmStart = System.nanoTime();
            do {
                measure(engine, streams, perStream);
            } while (System.nanoTime() - warmStart < WARMUP_NANOS);
            long tokens = 0;
            long nanos = 0;
            do {
                long[] result = measure(engine, streams, perStream);
                tokens += result[0];
                nanos += result[1];
            } while (nanos < MEASURE_NANOS);
            System.out.printf(Locale.ROOT, "%-22s %-5s %-26s %8d %10.1f%n", m.name(), precision, label, tokens,
                    tokens / (nanos / 1e9));
        }
    }

    private static final int TTFT_PROMPT_TOKENS = 200;
    private static final int TTFT_RUNS = 15;

    /**
     * Time to first token of a 200-token prompt, prompt processed in one batched step versus one token
     * per step (rowsPerStepMax 1), median of {@link #TTFT_RUNS} runs after as many warm-up runs.
     */
    private static void timeToFirstToken(Model m, String precision, int cores) throws Exception {
        StringBuilder text = new StringBuilder();
        String prompt = "";
        for (int round = 0; round < 1_000; round++) {
            text.append(round % 2 == 0 ? "Once upon a time, there was a little girl named Lily. " : "She liked to play in the park with her ball. ");
            prompt = text.toString();
            if (m.tokenizer().encode(prompt, true, false).length >= TTFT_PROMPT_TOKENS) {
                break;
            }
        }
        int promptTokens = m.tokenizer().encode(prompt, true, false).length;
        for (int rows : new int[] {1, 256}) {
            EngineOptions options = new EngineOptions(cores, 1, rows, 16);
            try (ReferenceEngine engine = new ReferenceEngine(m.name(), m.model(), m.tokenizer(), true, options)) {
                long[] nanos = new long[TTFT_RUNS];
                for (int run = 0; run < 2 * TTFT_RUNS; run++) {
                    long start = System.nanoTime();
                    long[] first = {0};
                    engine.generate(GenerationRequest.greedy(prompt, 1), piece -> {
                        if (first[0] == 0) {
                            first[0] = System.nanoTime() - start;
                        }
                        return true;
                    });
                    if (run >= TTFT_RUNS) {
                        nanos[run - TTFT_RUNS] = first[0] == 0 ? System.nanoTime() - start : first[0];
                    }
                }
                java.util.Arrays.sort(nanos);
                System.out.printf(Locale.ROOT, "%-22s %-5s %-26s %8d %8.2f ms%n", m.name(), precision,
                        "TTFT, " + (rows == 1 ? "token by token" : "batched prompt"), promptTokens, nanos[TTFT_RUNS / 2] / 1e6);
            }
        }
    }

    /** Runs {@code streams} concurrent generations; returns {tokens generated, wall nanoseconds}. */
    private static long[] measure(ReferenceEngine engine, int streams, int perStream) throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(streams);
        try {
            long start = System.nanoTime();
            List<Future<GenerationResult>> futures = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                futures.add(callers.submit(() -> engine.generate(GenerationRequest.greedy(PROMPT, perStream), null)));
            }
            long total = 0;
            for (Future<GenerationResult> future : futures) {
                total += future.get().completionTokens();
            }
            return new long[] {total, System.nanoTime() - start};
        } finally {
            callers.shutdownNow();
        }
    }
}
