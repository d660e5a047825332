package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static float[] randomLogits(SplittableRandom random, int vocab) {
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (random.nextGaussian() * 3);
        }
        return logits;
    }

    /** The tokens a full sort would allow: top-k by probability, then the smallest prefix reaching topP. */
    private static int[] allowedBySort(float[] logits, double temperature, int topK, double topP) {
        int vocab = logits.length;
        double[] probabilities = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (float logit : logits) {
            max = Math.max(max, logit / temperature);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            probabilities[i] = Math.exp(logits[i] / temperature - max);
            sum += probabilities[i];
        }
        Integer[] order = IntStream.range(0, vocab).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -probabilities[i]).thenComparing(i -> i));
        int count = topK > 0 ? Math.min(topK, vocab) : vocab;
        double mass = 0;
        for (int i = 0; i < count; i++) {
            mass += probabilities[order[i]] / sum;
        }
        double cumulative = 0;
        int taken = 0;
        while (taken < count) {
            cumulative += probabilities[order[taken]] / sum;
            taken++;
            if (cumulative >= topP * mass) {
                break;
            }
        }
        return Arrays.stream(order, 0, taken).mapToInt(Integer::intValue).sorted().toArray();
    }

    @Test
    void heapSelectionSamplesOnlyWhatAFullSortWouldAllow() {
        // Proves top-k and top-p by partial (heap) selection never pick a token outside the sorted-reference nucleus.
        SplittableRandom random = new SplittableRandom(4);
        int vocab = 300;
        double[][] settings = {{1.0, 0, 0.9}, {0.7, 20, 1.0}, {1.3, 50, 0.5}, {1.0, 0, 0.3}, {0.5, 5, 0.95}};
        for (double[] setting : settings) {
            GenerationRequest request = new GenerationRequest("", 1, setting[0], setting[2], (int) setting[1], 1L,
                    List.of());
            for (int trial = 0; trial < 20; trial++) {
                float[] logits = randomLogits(random, vocab);
                int[] allowed = allowedBySort(logits, setting[0], (int) setting[1], setting[2]);
                Sampler sampler = new Sampler(vocab, request, GenerationOptions.DEFAULTS, trial);
                for (int draw = 0; draw < 50; draw++) {
                    int token = sampler.sample(logits, 0);
                    assertTrue(Arrays.binarySearch(allowed, token) >= 0, "token " + token + " outside the nucleus of "
                            + allowed.length + " for " + Arrays.toString(setting));
                }
            }
        }
    }

    @Test
    void samplingFollowsTheDistribution() {
        // Proves temperature sampling draws tokens in proportion to softmax(logits): 3 tokens with logits ln(1,2,7).
        float[] logits = {(float) Math.log(1), (float) Math.log(2), (float) Math.log(7)};
        Sampler sampler = new Sampler(3, new GenerationRequest("", 1, 1.0, 1.0, 0, 1L, List.of()),
                GenerationOptions.DEFAULTS, 99L);
        int[] counts = new int[3];
        int draws = 20_000;
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(logits, 0)]++;
        }
        assertEquals(0.1, counts[0] / (double) draws, 0.01);
        assertEquals(0.2, counts[1] / (double) draws, 0.015);
        assertEquals(0.7, counts[2] / (double) draws, 0.015);
    }

    @Test
    void penaltiesLowerRepeatedTokens() {
        // Proves presence and frequency penalties subtract from logits of already sampled tokens, as OpenAI defines.
        float[] logits = {5.0f, 4.5f, 0f};
        Sampler greedy = new Sampler(3, GenerationRequest.greedy("", 3), new GenerationOptions(0.3, 0.5, true, 2, 0), 1L);
        assertEquals(0, greedy.sample(logits, 0));
        // Token 0 now carries 0.3 + 0.5 = 0.8 of penalty: 4.2 < 4.5, so token 1 wins.
        assertEquals(1, greedy.sample(logits, 0));
        assertEquals(1, greedy.lastTopTokens()[0]);
        double logSumExp = Math.log(Math.exp(4.2) + Math.exp(4.5) + Math.exp(0.0));
        assertEquals(4.5 - logSumExp, greedy.lastLogprob(), 1e-5);
        // Both have been sampled once: 4.2 vs 3.7, token 0 again.
        assertEquals(0, greedy.sample(logits, 0));
    }
}
