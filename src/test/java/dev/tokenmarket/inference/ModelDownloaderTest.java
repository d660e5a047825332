package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads over real HTTP from a JDK HTTP server bound to 127.0.0.1 that serves the shared model
 * files; no test sends traffic anywhere else.
 */
class ModelDownloaderTest {

    static final String CHECKPOINT_SHA256 = "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696";
    static final String TOKENIZER_SHA256 = "037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312";
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final ModelDownloader.Limits LIMITS =
            new ModelDownloader.Limits(Duration.ofSeconds(5), Duration.ofSeconds(30), 16L << 20);

    @TempDir
    Path dataDirectory;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(LOOPBACK, 0), 0);
        server.createContext("/stories260K/", this::serveModelFile);
        server.createContext("/chunked/", exchange -> {
            requests.incrementAndGet();
            // Length 0 makes the server stream the body in chunks, without a Content-Length header.
            send(exchange, 0, Files.readAllBytes(TestModels.STORIES_260K));
        });
        server.start();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private void serveModelFile(HttpExchange exchange) throws IOException {
        requests.incrementAndGet();
        String name = exchange.getRequestURI().getPath().substring("/stories260K/".length());
        Path file = TestModels.DIRECTORY.resolve(name);
        if (!List.of("stories260K.bin", "tok512.bin").contains(name) || !Files.isRegularFile(file)) {
            send(exchange, 404, new byte[0]);
            return;
        }
        byte[] body = Files.readAllBytes(file);
        send(exchange, 200, body);
    }

    private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
        try (exchange; OutputStream out = exchange.getResponseBody()) {
            if (status == 0) {
                exchange.sendResponseHeaders(200, 0);
            } else {
                exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            }
            out.write(body);
        }
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    private Path models() {
        return dataDirectory.resolve("models");
    }

    private List<Path> filesLeft() throws IOException {
        if (!Files.isDirectory(models())) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(models())) {
            return files.toList();
        }
    }

    @Test
    void shouldDownloadVerifyAndLoadAModelThatReproducesTheGoldenText() throws IOException {
        // Proves a verified download lands under its final name, byte for byte, and loads as the real model.
        ModelDownloader downloader = new ModelDownloader(LIMITS);
        Path checkpoint = models().resolve("stories260K.bin");
        Path tokenizer = models().resolve("tok512.bin");

        ModelDownloader.Result first = downloader.ensure(url("/stories260K/stories260K.bin"), CHECKPOINT_SHA256, checkpoint);
        ModelDownloader.Result second = downloader.ensure(url("/stories260K/tok512.bin"), TOKENIZER_SHA256, tokenizer);

        assertEquals(ModelDownloader.Outcome.DOWNLOADED, first.outcome(), first.message());
        assertEquals(ModelDownloader.Outcome.DOWNLOADED, second.outcome(), second.message());
        assertArrayEquals(Files.readAllBytes(TestModels.STORIES_260K), Files.readAllBytes(checkpoint));
        assertEquals(List.of(checkpoint, tokenizer).stream().sorted().toList(),
                filesLeft().stream().sorted().toList(), "no temporary file is left behind");
        LlamaModel model = LlamaModel.load(checkpoint);
        try (ReferenceEngine engine = new ReferenceEngine("downloaded", model, Tokenizer.load(tokenizer, 512), false)) {
            String text = engine.generate(GenerationRequest.greedy("", 24), null).text();
            assertFalse(text.isEmpty());
            assertTrue(GoldenOutputTest.GOLDEN.startsWith(text), "golden text starts with: " + text);
        }
    }

    @Test
    void shouldNotContactTheServerWhenTheVerifiedFileIsAlreadyPresent() {
        // Proves a file downloaded earlier is reused after checking its SHA-256, without any request.
        ModelDownloader downloader = new ModelDownloader(LIMITS);
        Path checkpoint = models().resolve("stories260K.bin");
        downloader.ensure(url("/stories260K/stories260K.bin"), CHECKPOINT_SHA256, checkpoint);
        int requestsAfterDownload = requests.get();

        ModelDownloader.Result again = downloader.ensure(url("/stories260K/stories260K.bin"), CHECKPOINT_SHA256, checkpoint);

        assertEquals(ModelDownloader.Outcome.PRESENT, again.outcome(), again.message());
        assertEquals(requestsAfterDownload, requests.get());
    }

    @Test
    void shouldDeleteTheDownloadAndSaySoWhenTheChecksumIsWrong() throws IOException {
        // Proves a body with another SHA-256 is never kept: clear error naming both checksums, no file left.
        String wrong = "0".repeat(64);
        ModelDownloader.Result result = new ModelDownloader(LIMITS)
                .ensure(url("/stories260K/stories260K.bin"), wrong, models().resolve("stories260K.bin"));

        assertEquals(ModelDownloader.Outcome.CHECKSUM_MISMATCH, result.outcome());
        assertTrue(result.message().contains("has SHA-256 " + CHECKPOINT_SHA256 + " but " + wrong + " was expected"),
                result.message());
        assertTrue(result.message().contains("deleted"), result.message());
        assertEquals(List.of(), filesLeft());
    }

    @Test
    void shouldKeepTheVerifiedFileWhenAReplacementHasTheWrongChecksum() throws IOException {
        // Proves the rename happens only after verification: a failed replacement leaves the old file intact.
        Path tokenizer = models().resolve("tok512.bin");
        Files.createDirectories(models());
        Files.write(tokenizer, new byte[] {1, 2, 3});

        ModelDownloader.Result result = new ModelDownloader(LIMITS)
                .ensure(url("/stories260K/tok512.bin"), CHECKPOINT_SHA256, tokenizer);

        assertEquals(ModelDownloader.Outcome.CHECKSUM_MISMATCH, result.outcome());
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(tokenizer));
        assertEquals(List.of(tokenizer), filesLeft());
    }

    @Test
    void shouldReportNoNetworkWhenTheConnectionIsRefused() throws IOException {
        // Proves an unreachable host is reported as "no network", quickly and without leaving a file.
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, LOOPBACK)) {
            closedPort = socket.getLocalPort();
        }
        long start = System.nanoTime();

        ModelDownloader.Result result = new ModelDownloader(LIMITS).ensure(
                URI.create("http://127.0.0.1:" + closedPort + "/stories260K.bin"), CHECKPOINT_SHA256,
                models().resolve("stories260K.bin"));

        assertEquals(ModelDownloader.Outcome.NO_NETWORK, result.outcome(), result.message());
        assertTrue(result.message().startsWith("no network: the connection to 127.0.0.1:" + closedPort),
                result.message());
        assertTrue(System.nanoTime() - start < LIMITS.connectTimeout().toNanos(), "refused fails fast");
        assertEquals(List.of(), filesLeft());
    }

    @Test
    void shouldGiveUpAtTheDeadlineWhenTheServerNeverAnswers() throws Exception {
        // Proves the transfer deadline bounds a server that accepts the connection and then stays silent.
        ModelDownloader.Limits shortDeadline =
                new ModelDownloader.Limits(Duration.ofSeconds(5), Duration.ofMillis(500), 16L << 20);
        try (ServerSocket silent = new ServerSocket(0, 1, LOOPBACK)) {
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try (Socket ignored = silent.accept()) {
                    Thread.sleep(Duration.ofSeconds(10));
                } catch (IOException | InterruptedException e) {
                    // The test closes the socket when it is done.
                }
            });
            ModelDownloader.Result result = new ModelDownloader(shortDeadline).ensure(
                    URI.create("http://127.0.0.1:" + silent.getLocalPort() + "/stories260K.bin"), CHECKPOINT_SHA256,
                    models().resolve("stories260K.bin"));
            acceptor.interrupt();

            assertEquals(ModelDownloader.Outcome.TIMED_OUT, result.outcome(), result.message());
            assertTrue(result.message().contains("did not finish within"), result.message());
        }
        assertEquals(List.of(), filesLeft());
    }

    @Test
    void shouldReportTheHttpStatusWhenTheFileIsMissingOnTheServer() throws IOException {
        // Proves an HTTP error is named with its status and leaves nothing behind.
        ModelDownloader.Result result = new ModelDownloader(LIMITS)
                .ensure(url("/stories260K/stories15M.bin"), CHECKPOINT_SHA256, models().resolve("stories15M.bin"));

        assertEquals(ModelDownloader.Outcome.HTTP_STATUS, result.outcome());
        assertTrue(result.message().endsWith("the server answered HTTP 404"), result.message());
        assertEquals(List.of(), filesLeft());
    }

    @Test
    void shouldRefuseABodyLargerThanTheLimitWithOrWithoutContentLength() throws IOException {
        // Proves the size limit holds both against the declared length and while a chunked body streams.
        ModelDownloader small = new ModelDownloader(
                new ModelDownloader.Limits(Duration.ofSeconds(5), Duration.ofSeconds(30), 100_000));

        ModelDownloader.Result declared = small.ensure(url("/stories260K/stories260K.bin"), CHECKPOINT_SHA256,
                models().resolve("stories260K.bin"));
        ModelDownloader.Result chunked = small.ensure(url("/chunked/stories260K.bin"), CHECKPOINT_SHA256,
                models().resolve("stories260K.bin"));

        assertEquals(ModelDownloader.Outcome.TOO_LARGE, declared.outcome(), declared.message());
        assertTrue(declared.message().contains("1056540 bytes, at most 100000"), declared.message());
        assertEquals(ModelDownloader.Outcome.TOO_LARGE, chunked.outcome(), chunked.message());
        assertTrue(chunked.message().contains("more than 100000 bytes"), chunked.message());
        assertEquals(List.of(), filesLeft());
    }
}
