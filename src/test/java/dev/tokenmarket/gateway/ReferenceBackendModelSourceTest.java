package dev.tokenmarket.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The order in which the reference backend looks for its model: configured files, files downloaded
 * earlier, a download, the synthetic model. Downloads come from a JDK HTTP server on 127.0.0.1 only.
 */
class ReferenceBackendModelSourceTest {

    private static final Path SHARED_MODELS = Path.of("../shared/models");
    private static final String CHECKPOINT_SHA256 = "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696";
    private static final String TOKENIZER_SHA256 = "037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312";

    @TempDir
    Path dataDirectory;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private ReferenceBackend backend;

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/models/", exchange -> {
            requests.incrementAndGet();
            String name = exchange.getRequestURI().getPath().substring("/models/".length());
            byte[] body = Files.readAllBytes(SHARED_MODELS.resolve(name.equals("tok512.bin") ? name : "stories260K.bin"));
            try (exchange; OutputStream out = exchange.getResponseBody()) {
                exchange.sendResponseHeaders(200, body.length);
                out.write(body);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
        if (backend != null) {
            backend.engine().close();
        }
    }

    private ReferenceBackend backend(URI base, boolean downloadEnabled) {
        ReferenceBackend b = new ReferenceBackend();
        b.modelName = "stories260k";
        b.checkpoint = dataDirectory.resolve("absent/stories260K.bin").toString();
        b.tokenizer = dataDirectory.resolve("absent/tok512.bin").toString();
        b.dataDirectory = dataDirectory.toString();
        b.downloadEnabled = downloadEnabled;
        b.checkpointUrl = base.resolve("stories260K.bin");
        b.checkpointSha256 = CHECKPOINT_SHA256;
        b.tokenizerUrl = base.resolve("tok512.bin");
        b.tokenizerSha256 = TOKENIZER_SHA256;
        b.connectTimeout = Duration.ofSeconds(5);
        b.transferTimeout = Duration.ofSeconds(30);
        b.downloadBytesMax = 16L << 20;
        return b;
    }

    private URI serverBase() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/models/");
    }

    private static URI unreachableBase() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort() + "/models/");
        }
    }

    @Test
    void shouldDownloadIntoTheDataDirectoryWhenTheConfiguredFilesAreMissing() {
        // Proves a machine without the model files downloads them and serves the real model, not the synthetic one.
        backend = backend(serverBase(), true);
        backend.load();

        assertEquals("stories260k", backend.engine().modelName());
        assertTrue(Files.isRegularFile(dataDirectory.resolve("models/stories260K.bin")));
        assertTrue(Files.isRegularFile(dataDirectory.resolve("models/tok512.bin")));
        assertEquals(2, requests.get());
    }

    @Test
    void shouldReuseEarlierDownloadsWithoutANetwork() throws IOException {
        // Proves files downloaded on an earlier start are served even when the download URL is unreachable.
        ReferenceBackend first = backend(serverBase(), true);
        first.load();
        first.engine().close();

        backend = backend(unreachableBase(), true);
        backend.load();

        assertEquals("stories260k", backend.engine().modelName());
        assertEquals(2, requests.get());
    }

    @Test
    void shouldServeTheSyntheticModelWhenThereIsNoNetwork() throws IOException {
        // Proves a failed download falls back to the synthetic model, listed under a name that says so.
        backend = backend(unreachableBase(), true);
        backend.load();

        assertEquals("stories260k-synthetic", backend.engine().modelName());
        assertTrue(Files.notExists(dataDirectory.resolve("models/stories260K.bin")));
    }

    @Test
    void shouldServeTheSyntheticModelAndKeepNothingWhenTheChecksumIsWrong() {
        // Proves a checkpoint with the wrong SHA-256 is never served or kept, and the tokenizer is not fetched.
        backend = backend(serverBase(), true);
        backend.checkpointSha256 = "0".repeat(64);
        backend.load();

        assertEquals("stories260k-synthetic", backend.engine().modelName());
        assertTrue(Files.notExists(dataDirectory.resolve("models/stories260K.bin")));
        assertEquals(1, requests.get());
    }

    @Test
    void shouldNotDownloadWhenDownloadIsDisabled() {
        // Proves tokenmarket.inference.download.enabled=false keeps the service off the network.
        backend = backend(serverBase(), false);
        backend.load();

        assertEquals("stories260k-synthetic", backend.engine().modelName());
        assertEquals(0, requests.get());
    }

    @Test
    void shouldPreferTheConfiguredLocalFiles() {
        // Proves the configured files win: nothing is downloaded when they exist.
        backend = backend(serverBase(), true);
        backend.checkpoint = SHARED_MODELS.resolve("stories260K.bin").toString();
        backend.tokenizer = SHARED_MODELS.resolve("tok512.bin").toString();
        backend.load();

        assertEquals("stories260k", backend.engine().modelName());
        assertEquals(0, requests.get());
    }
}
