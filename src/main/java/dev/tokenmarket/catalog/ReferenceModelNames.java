package dev.tokenmarket.catalog;

import java.util.List;

/** Which model names the embedded reference engine can serve. */
public interface ReferenceModelNames {

    boolean serves(String model);

    List<String> names();

    /** Context window of a model the reference engine serves. */
    int contextLength(String model);
}
