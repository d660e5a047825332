package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class BatchingTest {

    private static GenerationRequest seeded(String prompt, int maxTokens, long seed) {
        return new GenerationRequest(prompt, maxTokens, 0.9, 0.95, 0, seed, List.of());
    }

    @Test
    void seededOutputDoesNotDependOnBatchComposition() throws Exception {
        // Proves continuous batching is invisible: each request gives the same text alone and in a mixed batch.
        List<GenerationRequest> requests = new ArrayList<>();
        String[] prompts = {"", "Once upon a time", "The little dog ran to the park and saw a big red ball. He", "Lily",
                "Tom and Sue were friends. One day they went to the beach together and"};
        for (int i = 0; i < 12; i++) {
            requests.add(seeded(prompts[i % prompts.length], 40 + 17 * i, 1_000L + i));
        }
        try (ReferenceEngine engine = new ReferenceEngine("stories260K", TestModels.stories260K(),
                TestModels.tokenizer512(), false, new EngineOptions(2, 8, 64, 100))) {
            List<GenerationResult> alone = new ArrayList<>();
            for (GenerationRequest request : requests) {
                alone.add(engine.generate(request, null));
            }
            ExecutorService callers = Executors.newFixedThreadPool(requests.size());
            try {
                List<Future<GenerationResult>> together = new ArrayList<>();
                for (GenerationRequest request : requests) {
                    together.add(callers.submit(() -> engine.generate(request, null)));
                }
                for (int i = 0; i < requests.size(); i++) {
                    assertEquals(alone.get(i), together.get(i).get(), "request " + i);
                }
            } finally {
                callers.shutdownNow();
            }
            assertTrue(engine.stats().stepsTotal() < engine.stats().rowsTotal(), "steps must batch several rows");
        }
    }

    @Test
    void concurrentGreedyStreamsAllProduceTheGoldenText() throws Exception {
        // Proves many simultaneous sequences sharing one model each get the exact reference output.
        ReferenceEngine engine = TestModels.storiesEngine();
        ExecutorService callers = Executors.newFixedThreadPool(16);
        try {
            List<Future<GenerationResult>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                results.add(callers.submit(() -> engine.generate(GenerationRequest.greedy("", 256), null)));
            }
            for (Future<GenerationResult> result : results) {
                assertEquals(GoldenOutputTest.GOLDEN, result.get().text());
            }
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void cancellationStopsComputeAtOnce() throws Exception {
        // Proves a cancelled sequence leaves the batch at the next step: no tokens are sampled for it afterwards.
        try (ReferenceEngine engine = new ReferenceEngine("stories260K", TestModels.stories260K(),
                TestModels.tokenizer512(), false, new EngineOptions(1, 4, 64, 10))) {
            int[] delivered = {0};
            GenerationResult result = engine.generate(GenerationRequest.greedy("", 400), piece -> ++delivered[0] < 5);
            long sampledAtReturn = engine.stats().tokensTotal();
            Thread.sleep(200);
            EngineStats later = engine.stats();
            assertEquals(GenerationResult.CANCELLED, result.finishReason());
            assertEquals(5, result.completionTokens());
            assertTrue(sampledAtReturn <= 5 + BatchScheduler.BACKLOG_MAX + 1, "ran ahead " + sampledAtReturn);
            assertTrue(later.tokensTotal() - sampledAtReturn <= 1, "kept computing after cancel");
            assertEquals(0, later.activeSequences());
        }
    }

    @Test
    void requestsBeyondSequenceSlotsWaitAndThenRun() throws Exception {
        // Proves more concurrent requests than slots are queued, not refused, and all complete.
        try (ReferenceEngine engine = new ReferenceEngine("stories260K", TestModels.stories260K(),
                TestModels.tokenizer512(), false, new EngineOptions(1, 2, 32, 100))) {
            ExecutorService callers = Executors.newFixedThreadPool(6);
            try {
                List<Future<GenerationResult>> results = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    results.add(callers.submit(() -> engine.generate(GenerationRequest.greedy("", 50), null)));
                }
                for (Future<GenerationResult> result : results) {
                    assertEquals(GoldenOutputTest.GOLDEN.substring(0, result.get().text().length()), result.get().text());
                    assertEquals(50, result.get().completionTokens());
                }
            } finally {
                callers.shutdownNow();
            }
        }
    }

    @Test
    void longPromptsAreProcessedInChunksWithTheSameResult() {
        // Proves a prompt longer than one step's row budget is split over steps without changing the output.
        String prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
        GenerationResult whole = TestModels.storiesEngine().generate(GenerationRequest.greedy(prompt, 30), null);
        try (ReferenceEngine engine = new ReferenceEngine("stories260K", TestModels.stories260K(),
                TestModels.tokenizer512(), false, new EngineOptions(1, 2, 4, 10))) {
            GenerationResult chunked = engine.generate(GenerationRequest.greedy(prompt, 30), null);
            assertEquals(whole, chunked);
            assertTrue(engine.stats().stepsTotal() >= whole.promptTokens() / 4 + 29, "prompt must take several steps");
        }
    }

    @Test
    void closedEngineRefusesNewWork() {
        // Proves close() stops the scheduler and later calls fail with a clear message instead of hanging.
        ReferenceEngine engine = new ReferenceEngine("stories260K", TestModels.stories260K(), TestModels.tokenizer512(),
                false, new EngineOptions(1, 1, 8, 1));
        assertEquals(5, engine.generate(GenerationRequest.greedy("", 5), null).completionTokens());
        engine.close();
        IllegalStateException error = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> engine.generate(GenerationRequest.greedy("", 5), null));
        assertTrue(error.getMessage().contains("closed"), error.getMessage());
    }
}
