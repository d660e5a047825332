package dev.tokenmarket.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removes what test runs and benchmarks leave on disk: a suite's PostgreSQL and broker take about 200 MB. */
public final class TemporaryDirectories {

    private TemporaryDirectories() {
    }

    /** Deletes {@code root} and everything under it, deepest first; a missing tree is no error. */
    public static void delete(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
