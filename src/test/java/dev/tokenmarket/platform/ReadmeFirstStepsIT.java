package dev.tokenmarket.platform;

import dev.tokenmarket.testing.PackagedApplication;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs the README's first steps (the first {@code ```bash} block under "## First steps") with bash against the
 * packaged application, started as the README's first command starts it, so the README cannot drift from
 * the product.
 */
class ReadmeFirstStepsIT {

    private static final String ADMIN_KEY = "readme-first-steps-admin-key";
    private static final Pattern RUNNING_AT = Pattern.compile("tokenmarket is running at http://[^:/]+:(\\d+)");
    private static final Pattern FIRST_STEPS = Pattern.compile("(?s)\n## First steps\n.*?\n```bash\n(.*?)\n```\n");

    @TempDir
    Path dataDirectory;

    private PackagedApplication application;

    @AfterEach
    void stop() throws InterruptedException {
        if (application != null) {
            application.stop();
        }
    }

    @Test
    void theReadmesFirstStepsRunAsTheyAreAgainstAStartedMarketplace() throws Exception {
        // Proves the block pastes as it is: bash stops at the first command that fails (errexit, pipefail,
        // curl -f, jq -e on the trial balance and the verification), and the test fails with its output.
        Matcher block = FIRST_STEPS.matcher(Files.readString(Path.of("README.md")));
        assertTrue(block.find(), "the README has a ```bash block under \"## First steps\"");
        Path script = dataDirectory.resolve("first-steps.sh");
        Files.writeString(script, block.group(1) + "\n");

        application = new PackagedApplication(Map.of("TOKENMARKET_DATA_DIR", dataDirectory.resolve("data").toString(),
                "TOKENMARKET_ADMIN_KEY", ADMIN_KEY), Map.of());
        application.start();
        Matcher runningAt = RUNNING_AT.matcher(application.output());
        assertTrue(runningAt.find(), "the start prints its URL:\n" + application.output());

        // Only what a user of the README has set: the admin key exported, the port it started on.
        ProcessBuilder bash = new ProcessBuilder("bash", "-euo", "pipefail", script.toString()).redirectErrorStream(true);
        bash.environment().clear();
        bash.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        bash.environment().put("HOME", dataDirectory.toString());
        bash.environment().put("TOKENMARKET_ADMIN_KEY", ADMIN_KEY);
        bash.environment().put("TOKENMARKET_PORT", runningAt.group(1));
        Process run = bash.start();
        CompletableFuture<String> printed = CompletableFuture.supplyAsync(() -> read(run), Executors.newVirtualThreadPerTaskExecutor());
        boolean finished = run.waitFor(120, TimeUnit.SECONDS);
        if (!finished) {
            run.destroyForcibly().waitFor();
        }
        String output = printed.get();
        assertTrue(finished, "the first steps finished within 2 minutes:\n" + output);
        assertEquals(0, run.exitValue(), "every command of the README's first steps succeeds:\n" + output);
        assertTrue(output.contains("\"cost\""), "the completion answered with its cost:\n" + output);
    }

    private static String read(Process process) {
        try {
            return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
