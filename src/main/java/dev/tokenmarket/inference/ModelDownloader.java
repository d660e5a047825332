package dev.tokenmarket.inference;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Fetches a model file (checkpoint or tokenizer) over HTTP(S) into a local directory, verified by its
 * SHA-256. The file appears under its final name only once its checksum matches: the body is streamed
 * into a temporary file in the same directory, hashed on the way, and renamed atomically; any failure
 * deletes the temporary file, so a half-written or tampered download can never be loaded.
 *
 * <p>Every download is bounded: a connect timeout, a deadline for the whole transfer, and a size limit
 * checked against {@code Content-Length} and again while the body streams. Expected failures (no
 * network, an HTTP error, a wrong checksum, a body too large) are returned as an {@link Outcome} with a
 * message a person can act on, not thrown: the caller decides what to serve instead.
 */
public final class ModelDownloader {

    /** What happened to one file. */
    public enum Outcome {
        /** The file was already in place with the expected checksum; nothing was sent over the network. */
        PRESENT,
        /** The file was downloaded, its checksum matched, and it is now in place. */
        DOWNLOADED,
        /** The host could not be reached: unknown host, connection refused, or connect timeout. */
        NO_NETWORK,
        /** The transfer did not finish within the deadline. */
        TIMED_OUT,
        /** The server answered with a status other than 200. */
        HTTP_STATUS,
        /** The body is larger than the size limit. */
        TOO_LARGE,
        /** The body's SHA-256 differs from the expected one; the download was deleted. */
        CHECKSUM_MISMATCH,
        /** Reading, writing or renaming a local file failed, or the transfer broke off. */
        IO_ERROR;

        /** True when the file is in place and verified. */
        public boolean available() {
            return this == PRESENT || this == DOWNLOADED;
        }
    }

    /** The outcome for one file, where it is (or would have been), and a message saying what happened. */
    public record Result(Outcome outcome, Path file, String message) {
    }

    /** The bounds of every download. */
    public record Limits(Duration connectTimeout, Duration transferTimeout, long bytesMax) {
        public Limits {
            if (connectTimeout.isNegative() || connectTimeout.isZero()
                    || transferTimeout.isNegative() || transferTimeout.isZero()) {
                throw new IllegalArgumentException("download timeouts must be positive");
            }
            if (bytesMax <= 0) {
                throw new IllegalArgumentException("download bytesMax must be positive, got " + bytesMax);
            }
        }
    }

    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    /** Chunk size for hashing files already on disk. */
    private static final int HASH_BUFFER_BYTES = 1 << 16;
    /** Guards against cyclic cause chains when classifying a failure. */
    private static final int CAUSE_DEPTH_MAX = 16;

    private final Limits limits;
    private final HttpClient client;

    public ModelDownloader(Limits limits) {
        this.limits = limits;
        // NORMAL follows the redirects of a CDN (the tinyllamas files redirect) but never from HTTPS to HTTP.
        this.client = HttpClient.newBuilder()
                .connectTimeout(limits.connectTimeout())
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    /**
     * Makes sure {@code target} holds the file with the given SHA-256: returns {@link Outcome#PRESENT} when
     * it already does, otherwise downloads it from {@code source}. A file in place with another checksum
     * (left by an older configuration) is replaced only once the new download has been verified.
     */
    public Result ensure(URI source, String sha256Expected, Path target) {
        if (isPresent(sha256Expected, target)) {
            return new Result(Outcome.PRESENT, target, target + " is present with the expected SHA-256");
        }
        return download(source, sha256Expected, target);
    }

    /** True when {@code target} is a readable file with the given SHA-256. */
    public boolean isPresent(String sha256Expected, Path target) {
        String expected = normalizedSha256(sha256Expected);
        if (!Files.isRegularFile(target)) {
            return false;
        }
        try {
            return sha256(target).equals(expected);
        } catch (IOException e) {
            // An unreadable file is as good as none: a download replaces it.
            return false;
        }
    }

    /** Downloads {@code source} to {@code target}, replacing it only when the body's SHA-256 matches. */
    public Result download(URI source, String sha256Expected, Path target) {
        String expected = normalizedSha256(sha256Expected);
        String scheme = source.getScheme() == null ? "" : source.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new IllegalArgumentException("model download URL must be http or https: " + source);
        }
        Path directory = target.toAbsolutePath().getParent();
        Path temporary;
        try {
            Files.createDirectories(directory);
            temporary = Files.createTempFile(directory, target.getFileName() + ".", ".part");
        } catch (IOException e) {
            return new Result(Outcome.IO_ERROR, target, "cannot write to " + directory + ": " + e.getMessage());
        }
        try {
            return fetch(source, expected, target, temporary);
        } finally {
            deleteQuietly(temporary);
        }
    }

    private Result fetch(URI source, String expected, Path target, Path temporary) {
        HttpRequest request = HttpRequest.newBuilder(source).timeout(limits.transferTimeout()).GET().build();
        CompletableFuture<HttpResponse<String>> response =
                client.sendAsync(request, info -> subscriberFor(info, temporary));
        String actual;
        try {
            HttpResponse<String> answer = response.get(limits.transferTimeout().toMillis(), TimeUnit.MILLISECONDS);
            if (answer.statusCode() != 200) {
                return new Result(Outcome.HTTP_STATUS, target,
                        "download of " + source + " failed: the server answered HTTP " + answer.statusCode());
            }
            actual = answer.body();
        } catch (TimeoutException e) {
            response.cancel(true);
            return new Result(Outcome.TIMED_OUT, target, "download of " + source + " did not finish within "
                    + limits.transferTimeout().toSeconds() + " s");
        } catch (InterruptedException e) {
            response.cancel(true);
            Thread.currentThread().interrupt();
            return new Result(Outcome.IO_ERROR, target, "download of " + source + " was interrupted");
        } catch (ExecutionException e) {
            return failure(source, target, e.getCause());
        }
        if (!actual.equals(expected)) {
            return new Result(Outcome.CHECKSUM_MISMATCH, target, "download of " + source + " has SHA-256 " + actual
                    + " but " + expected + " was expected; the downloaded file was deleted and not used");
        }
        try {
            moveAtomically(temporary, target);
        } catch (IOException e) {
            return new Result(Outcome.IO_ERROR, target, "cannot move the verified download to " + target + ": "
                    + e.getMessage());
        }
        return new Result(Outcome.DOWNLOADED, target, "downloaded " + source + " to " + target + " (SHA-256 verified)");
    }

    /** Streams a 200 answer into the temporary file; any other status is read into nothing. */
    private HttpResponse.BodySubscriber<String> subscriberFor(HttpResponse.ResponseInfo info, Path temporary) {
        if (info.statusCode() != 200) {
            return HttpResponse.BodySubscribers.replacing("");
        }
        long declared = info.headers().firstValueAsLong("Content-Length").orElse(-1L);
        if (declared > limits.bytesMax()) {
            return new FailedSubscriber(new TooLargeException(declared, limits.bytesMax()));
        }
        try {
            return new HashingFileSubscriber(temporary, limits.bytesMax());
        } catch (IOException e) {
            return new FailedSubscriber(e);
        }
    }

    private Result failure(URI source, Path target, Throwable cause) {
        String host = source.getHost();
        TooLargeException tooLarge = find(cause, TooLargeException.class);
        if (tooLarge != null) {
            return new Result(Outcome.TOO_LARGE, target, "download of " + source + " refused: " + tooLarge.getMessage());
        }
        if (find(cause, HttpConnectTimeoutException.class) != null) {
            return new Result(Outcome.NO_NETWORK, target, "no network: connecting to " + host + " timed out after "
                    + limits.connectTimeout().toSeconds() + " s");
        }
        if (find(cause, HttpTimeoutException.class) != null) {
            return new Result(Outcome.TIMED_OUT, target, "download of " + source + " did not finish within "
                    + limits.transferTimeout().toSeconds() + " s");
        }
        // The JDK client reports an unknown host as a ConnectException caused by an unresolved address.
        if (find(cause, UnresolvedAddressException.class) != null || find(cause, UnknownHostException.class) != null) {
            return new Result(Outcome.NO_NETWORK, target, "no network: the host " + host + " cannot be resolved");
        }
        if (find(cause, ConnectException.class) != null) {
            return new Result(Outcome.NO_NETWORK, target, "no network: the connection to " + host + ":"
                    + port(source) + " was refused or could not be opened");
        }
        return new Result(Outcome.IO_ERROR, target, "download of " + source + " failed: " + describe(cause));
    }

    /** The first throwable of the given type in the cause chain, or null; the chain length is bounded. */
    private static <T extends Throwable> T find(Throwable error, Class<T> type) {
        Throwable t = error;
        for (int depth = 0; t != null && depth < CAUSE_DEPTH_MAX; depth++, t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    private static int port(URI source) {
        if (source.getPort() >= 0) {
            return source.getPort();
        }
        return "https".equalsIgnoreCase(source.getScheme()) ? 443 : 80;
    }

    private static String describe(Throwable error) {
        return error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            // Same directory, so only exotic file systems get here; a plain move still never exposes a
            // partial file under the final name on the local file systems this runs on.
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // The temporary file has a name nobody loads; leaving it behind is harmless.
        }
    }

    /** The lower-case hex SHA-256 of a file. */
    public static String sha256(Path file) throws IOException {
        MessageDigest digest = newSha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[HASH_BUFFER_BYTES];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static String normalizedSha256(String sha256) {
        String hex = sha256 == null ? "" : sha256.strip().toLowerCase(Locale.ROOT);
        if (!SHA256_HEX.matcher(hex).matches()) {
            throw new IllegalArgumentException("expected SHA-256 must be 64 hex digits, got '" + sha256 + "'");
        }
        return hex;
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
    }

    /** A body larger than the limit, refused before or while it streams. */
    private static final class TooLargeException extends IOException {
        private static final long serialVersionUID = 1L;

        TooLargeException(long bytes, long bytesMax) {
            super("the body has " + (bytes < 0 ? "more than " + bytesMax : bytes) + " bytes, at most " + bytesMax
                    + " are allowed (tokenmarket.inference.download.bytes-max)");
        }
    }

    /** Writes the body to a file and hashes it on the way; completes with the lower-case hex SHA-256. */
    private static final class HashingFileSubscriber implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private final FileChannel channel;
        private final MessageDigest digest = newSha256();
        private final long bytesMax;
        private long bytes;
        private Flow.Subscription subscription;

        HashingFileSubscriber(Path file, long bytesMax) throws IOException {
            this.channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            this.bytesMax = bytesMax;
        }

        @Override
        public CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            try {
                for (ByteBuffer buffer : buffers) {
                    bytes += buffer.remaining();
                    if (bytes > bytesMax) {
                        throw new TooLargeException(-1, bytesMax);
                    }
                    digest.update(buffer.duplicate());
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                    }
                }
                subscription.request(1);
            } catch (IOException e) {
                subscription.cancel();
                fail(e);
            }
        }

        @Override
        public void onError(Throwable error) {
            fail(error);
        }

        @Override
        public void onComplete() {
            try {
                channel.force(true);
                channel.close();
                result.complete(HexFormat.of().formatHex(digest.digest()));
            } catch (IOException e) {
                fail(e);
            }
        }

        private void fail(Throwable error) {
            try {
                channel.close();
            } catch (IOException e) {
                error.addSuppressed(e);
            }
            result.completeExceptionally(error);
        }
    }

    /** Refuses a body without reading it. */
    private static final class FailedSubscriber implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private final IOException error;

        FailedSubscriber(IOException error) {
            this.error = error;
        }

        @Override
        public CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscription.cancel();
            result.completeExceptionally(error);
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
        }

        @Override
        public void onError(Throwable throwable) {
            result.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            result.completeExceptionally(error);
        }
    }
}
