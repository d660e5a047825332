package dev.tokenmarket.inference;

import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits: repetition penalties, then greedy argmax
 * (temperature 0) or sampling from softmax(logits / temperature) restricted to the top-k tokens
 * and then to the top-p nucleus. Selection uses bounded heaps, never a sort of the whole vocabulary.
 * Owns its PRNG, so a seeded sequence draws the same numbers whatever else runs.
 * Not thread-safe; one per sequence.
 */
final class Sampler {

    private final int vocabSize;
    private final double temperature;
    private final double topP;
    private final int topK;
    private final double presencePenalty;
    private final double frequencyPenalty;
    private final int topLogprobs;
    private final boolean logprobs;
    private final SplittableRandom random;
    // (vocab): working copy of the logits, then probabilities
    private final float[] work;
    // (vocab): candidate token ids, arranged as heaps
    private final int[] candidates;
    // (vocab): how often each token was sampled so far, only with penalties
    private final int[] sampledCounts;
    private double lastLogprob;
    private int[] lastTopTokens = new int[0];
    private double[] lastTopLogprobs = new double[0];

    Sampler(int vocabSize, GenerationRequest request, GenerationOptions options, long seed) {
        this.vocabSize = vocabSize;
        this.temperature = request.temperature();
        this.topP = request.topP();
        this.topK = request.topK() <= 0 || request.topK() >= vocabSize ? 0 : request.topK();
        this.presencePenalty = options.presencePenalty();
        this.frequencyPenalty = options.frequencyPenalty();
        this.logprobs = options.logprobs();
        this.topLogprobs = options.topLogprobs();
        this.random = new SplittableRandom(seed);
        this.work = new float[vocabSize];
        this.candidates = new int[vocabSize];
        this.sampledCounts = presencePenalty != 0 || frequencyPenalty != 0 ? new int[vocabSize] : null;
    }

    /** Chooses the next token from {@code logits[offset .. offset + vocab)}; the input is not modified. */
    int sample(float[] logits, int offset) {
        System.arraycopy(logits, offset, work, 0, vocabSize);
        if (sampledCounts != null) {
            for (int t = 0; t < vocabSize; t++) {
                int count = sampledCounts[t];
                if (count > 0) {
                    work[t] -= (float) (presencePenalty + frequencyPenalty * count);
                }
            }
        }
        // Log-probabilities describe the model's (penalised) distribution before temperature, as OpenAI reports them.
        double logSumExp = logprobs ? logSumExp(work) : 0;
        int token = temperature == 0 ? argmax(work) : sampleTemperature();
        if (logprobs) {
            recordLogprobs(logits, offset, token, logSumExp);
        }
        if (sampledCounts != null) {
            sampledCounts[token]++;
        }
        return token;
    }

    private int sampleTemperature() {
        float inverse = (float) (1.0 / temperature);
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < vocabSize; t++) {
            work[t] *= inverse;
            max = Math.max(max, work[t]);
        }
        double sum = 0;
        for (int t = 0; t < vocabSize; t++) {
            float e = (float) Math.exp(work[t] - max);
            work[t] = e;
            sum += e;
        }
        for (int t = 0; t < vocabSize; t++) {
            work[t] = (float) (work[t] / sum);
        }
        double coin = random.nextDouble();
        if (topK == 0 && topP >= 1.0) {
            return sampleAll(coin);
        }
        int count;
        if (topK > 0) {
            count = selectTopK(topK);
        } else {
            // Tokens below this probability cannot be in the nucleus: together they hold less than 1 - topP.
            float cutoff = (float) ((1.0 - topP) / (vocabSize - 1));
            count = 0;
            for (int t = 0; t < vocabSize; t++) {
                if (work[t] >= cutoff) {
                    candidates[count++] = t;
                }
            }
        }
        if (topP < 1.0) {
            count = nucleus(count);
        }
        double mass = 0;
        for (int i = 0; i < count; i++) {
            mass += work[candidates[i]];
        }
        double target = coin * mass;
        double cumulative = 0;
        for (int i = 0; i < count; i++) {
            cumulative += work[candidates[i]];
            if (target < cumulative) {
                return candidates[i];
            }
        }
        return candidates[count - 1];
    }

    private int sampleAll(double coin) {
        double cumulative = 0;
        for (int t = 0; t < vocabSize; t++) {
            cumulative += work[t];
            if (coin < cumulative) {
                return t;
            }
        }
        return vocabSize - 1;
    }

    /** Whether token a ranks before token b: higher probability first, lower id on ties. */
    private boolean before(int a, int b) {
        return work[a] > work[b] || (work[a] == work[b] && a < b);
    }

    /** Keeps the k best tokens in candidates[0..k) using a min-heap of size k (O(vocab log k)). */
    private int selectTopK(int k) {
        for (int t = 0; t < k; t++) {
            candidates[t] = t;
            siftUpMin(t);
        }
        for (int t = k; t < vocabSize; t++) {
            if (before(t, candidates[0])) {
                candidates[0] = t;
                siftDownMin(0, k);
            }
        }
        return k;
    }

    private void siftUpMin(int i) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (before(candidates[parent], candidates[i])) {
                swap(parent, i);
                i = parent;
            } else {
                return;
            }
        }
    }

    private void siftDownMin(int i, int size) {
        while (true) {
            int left = 2 * i + 1;
            int worst = i;
            if (left < size && before(candidates[worst], candidates[left])) {
                worst = left;
            }
            if (left + 1 < size && before(candidates[worst], candidates[left + 1])) {
                worst = left + 1;
            }
            if (worst == i) {
                return;
            }
            swap(i, worst);
            i = worst;
        }
    }

    /**
     * Reorders candidates[0..count) so that the smallest best-first prefix whose probability
     * reaches topP (of the candidates' mass) comes first, and returns its length. Uses a max-heap
     * and pops only as many tokens as the nucleus holds.
     */
    private int nucleus(int count) {
        double mass = 0;
        for (int i = 0; i < count; i++) {
            mass += work[candidates[i]];
        }
        for (int i = count / 2 - 1; i >= 0; i--) {
            siftDownMax(i, count);
        }
        double threshold = topP * mass;
        double cumulative = 0;
        int heapSize = count;
        int taken = 0;
        // Popped tokens go to the end of the heap region, so the array ends with them best-first reversed.
        while (heapSize > 0) {
            int best = candidates[0];
            heapSize--;
            candidates[0] = candidates[heapSize];
            candidates[heapSize] = best;
            siftDownMax(0, heapSize);
            taken++;
            cumulative += work[best];
            if (cumulative >= threshold) {
                break;
            }
        }
        // The taken tokens sit at the end, worst first; reversing the whole range puts them at the front, best first.
        for (int i = 0, j = count - 1; i < j; i++, j--) {
            swap(i, j);
        }
        return taken;
    }

    private void siftDownMax(int i, int size) {
        while (true) {
            int left = 2 * i + 1;
            int best = i;
            if (left < size && before(candidates[left], candidates[best])) {
                best = left;
            }
            if (left + 1 < size && before(candidates[left + 1], candidates[best])) {
                best = left + 1;
            }
            if (best == i) {
                return;
            }
            swap(i, best);
            i = best;
        }
    }

    private void swap(int i, int j) {
        int t = candidates[i];
        candidates[i] = candidates[j];
        candidates[j] = t;
    }

    /** Index of the largest value; the first one on ties, as llama2.c. */
    static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private double logSumExp(float[] values) {
        float max = Float.NEGATIVE_INFINITY;
        for (float value : values) {
            max = Math.max(max, value);
        }
        double sum = 0;
        for (float value : values) {
            sum += Math.exp(value - max);
        }
        return max + Math.log(sum);
    }

    /** Computes the chosen token's log-probability and the topLogprobs best alternatives from penalised logits. */
    private void recordLogprobs(float[] logits, int offset, int token, double logSumExp) {
        // work may now hold probabilities; recompute the penalised logits for the few tokens reported.
        lastLogprob = penalised(logits, offset, token) - logSumExp;
        int n = topLogprobs;
        int[] best = new int[n];
        double[] bestValues = new double[n];
        int size = 0;
        for (int t = 0; t < vocabSize; t++) {
            double value = penalised(logits, offset, t);
            if (size < n) {
                int i = size++;
                while (i > 0 && bestValues[i - 1] < value) {
                    best[i] = best[i - 1];
                    bestValues[i] = bestValues[i - 1];
                    i--;
                }
                best[i] = t;
                bestValues[i] = value;
            } else if (n > 0 && value > bestValues[n - 1]) {
                int i = n - 1;
                while (i > 0 && bestValues[i - 1] < value) {
                    best[i] = best[i - 1];
                    bestValues[i] = bestValues[i - 1];
                    i--;
                }
                best[i] = t;
                bestValues[i] = value;
            }
        }
        for (int i = 0; i < size; i++) {
            bestValues[i] -= logSumExp;
        }
        lastTopTokens = best;
        lastTopLogprobs = bestValues;
    }

    private double penalised(float[] logits, int offset, int token) {
        float value = logits[offset + token];
        if (sampledCounts != null && sampledCounts[token] > 0) {
            value -= (float) (presencePenalty + frequencyPenalty * sampledCounts[token]);
        }
        return value;
    }

    double lastLogprob() {
        return lastLogprob;
    }

    int[] lastTopTokens() {
        return lastTopTokens;
    }

    double[] lastTopLogprobs() {
        return lastTopLogprobs;
    }
}
