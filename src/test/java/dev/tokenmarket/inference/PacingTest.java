package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class PacingTest {

    @Test
    void pacedRequestDeliversWithinTenPercentOfItsRateWithoutSlowingOthers() throws Exception {
        // Proves max tokens/second paces delivery to within 10% while an unpaced neighbour runs at full speed.
        double rate = 40.0;
        int tokens = 41;
        ReferenceEngine engine = TestModels.storiesEngine();
        // Warm-up, so that JIT compilation does not count against the unpaced neighbour's time.
        for (int i = 0; i < 3; i++) {
            engine.generate(GenerationRequest.greedy("", 256), null);
        }
        CompletableFuture<Long> unpacedNanos = CompletableFuture.supplyAsync(() -> {
            long start = System.nanoTime();
            engine.generate(GenerationRequest.greedy("", 200), null);
            return System.nanoTime() - start;
        });
        List<Long> arrivals = new ArrayList<>();
        GenerationOutput output = engine.generate(GenerationRequest.greedy("", tokens),
                new GenerationOptions(0, 0, false, 0, rate), token -> arrivals.add(System.nanoTime()));
        assertEquals(tokens, output.result().completionTokens());
        double seconds = (arrivals.get(arrivals.size() - 1) - arrivals.get(0)) / 1e9;
        double measured = (tokens - 1) / seconds;
        System.out.printf("paced at %.1f tok/s, measured %.2f tok/s%n", rate, measured);
        assertTrue(Math.abs(measured - rate) <= rate * 0.10, "measured " + measured + " tok/s for a limit of " + rate);
        System.out.printf("unpaced neighbour took %.3f s%n", unpacedNanos.get() / 1e9);
        assertTrue(unpacedNanos.get() / 1e9 < seconds / 2, "the unpaced request must not be held back by pacing");
    }
}
