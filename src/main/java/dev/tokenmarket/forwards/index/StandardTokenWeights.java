package dev.tokenmarket.forwards.index;

/**
 * How many standard tokens (ST) a generation's prompt and completion tokens count for. Each model's product
 * will give its weights once products exist; until then {@link PromptPlusCompletion} counts every token once.
 */
public interface StandardTokenWeights {

    /** Weights in thousandths of an ST per token, so that a product's 4.21 is exact (4210). */
    record Weights(long promptMilli, long completionMilli) {
        public Weights {
            if (promptMilli < 0 || completionMilli < 0 || promptMilli + completionMilli == 0) {
                throw new IllegalArgumentException("weights must be non-negative and not both zero");
            }
        }

        /** Thousandths of an ST of a generation. */
        long standardTokensMilli(long promptTokens, long completionTokens) {
            return Math.addExact(Math.multiplyExact(promptTokens, promptMilli), Math.multiplyExact(completionTokens, completionMilli));
        }
    }

    Weights of(String model);
}
