package dev.tokenmarket.forwards.index;

import io.quarkus.arc.DefaultBean;
import jakarta.enterprise.context.ApplicationScoped;

/** ST = prompt + completion tokens: the weights until products exist (a product's bean replaces this one). */
@DefaultBean
@ApplicationScoped
public class PromptPlusCompletion implements StandardTokenWeights {

    static final Weights ONE_EACH = new Weights(1_000, 1_000);

    @Override
    public Weights of(String model) {
        return ONE_EACH;
    }
}
