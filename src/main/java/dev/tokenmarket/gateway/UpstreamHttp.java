package dev.tokenmarket.gateway;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.parsetools.RecordParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's HTTP client for OpenAI-compatible upstreams: Vert.x's client, on the event loops that
 * also serve the gateway's own connections, used from the request's worker thread, which waits for the
 * answer. (The JDK's client it replaces ran its own selector and worker threads: about a seventh of the
 * gateway JVM's CPU at 400 req/s, besides the hand-overs between them.) A streamed body is handed over line by line;
 * when the worker falls behind, the upstream's connection is paused, so TCP slows the upstream down.
 */
final class UpstreamHttp implements AutoCloseable {

    /** No answer (not even headers) within the first-byte timeout. */
    static final class NoAnswerInTime extends IOException {
        NoAnswerInTime(String message) {
            super(message);
        }
    }

    /** The connection closed before any answer: typically a kept-alive connection the upstream had just closed. */
    static final class ClosedWithoutAnswer extends IOException {
        ClosedWithoutAnswer(Throwable cause) {
            super("the connection closed without an answer", cause);
        }
    }

    /** Connections kept to one upstream at most; the endpoints' concurrency limits bound them before this. */
    private static final int CONNECTIONS_PER_UPSTREAM_MAX = 4_096;
    /** Lines read ahead of the worker before the upstream's connection is paused. */
    private static final int LINES_AHEAD_MAX = 256;
    /** No SSE line of a completion comes near this; a longer one is refused rather than buffered. */
    private static final int LINE_BYTES_MAX = 16 * 1024 * 1024;
    /** How long a finished stream ([DONE] read) may take to end its response before its connection is dropped. */
    private static final long END_WAIT_MS = 500;
    private static final Object END = new Object();

    private final Vertx vertx;
    private final HttpClient client;
    private final long firstByteTimeoutMs;
    private final long connectTimeoutMs;

    UpstreamHttp(Vertx vertx, Duration connectTimeout, Duration firstByteTimeout) {
        this.vertx = vertx;
        this.firstByteTimeoutMs = firstByteTimeout.toMillis();
        this.connectTimeoutMs = connectTimeout.toMillis();
        this.client = vertx.createHttpClient(new HttpClientOptions()
                        .setProtocolVersion(HttpVersion.HTTP_1_1)
                        .setConnectTimeout((int) connectTimeoutMs)
                        .setKeepAlive(true)
                        .setTcpNoDelay(true),
                new PoolOptions().setHttp1MaxSize(CONNECTIONS_PER_UPSTREAM_MAX));
    }

    /**
     * Posts a JSON body and waits for the answer's headers. {@code lines}: the body will be read line by
     * line as it arrives (a stream), else whole. Throws {@link NoAnswerInTime}, {@link ClosedWithoutAnswer},
     * or another IOException (refused, unreachable) when no answer came.
     */
    Answer post(String url, String authorization, byte[] json, boolean lines) throws IOException, InterruptedException {
        RequestOptions options;
        try {
            options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(url)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
        } catch (RuntimeException e) {
            throw new IOException("invalid upstream URL " + url + ": " + e.getMessage(), e);
        }
        if (authorization != null) {
            options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
        }
        Answer answer = new Answer(lines);
        client.request(options).onComplete(opened -> {
            if (opened.failed()) {
                answer.headers.completeExceptionally(opened.cause());
            } else {
                answer.start(opened.result(), Buffer.buffer(json));
            }
        });
        answer.awaitHeaders();
        return answer;
    }

    @Override
    public void close() {
        client.close();
    }

    /** One upstream answer, read by the worker thread; closing it gives its connection back (or drops it). */
    final class Answer implements AutoCloseable {
        private final boolean lines;
        private final CompletableFuture<HttpClientResponse> headers = new CompletableFuture<>();
        private final CompletableFuture<Buffer> body = new CompletableFuture<>();
        private final LinkedBlockingQueue<Object> received = new LinkedBlockingQueue<>();
        // Set on the event loop before the headers future completes, so the worker sees them after awaitHeaders;
        // the request is volatile for a worker interrupted before that (the context is written before it).
        private volatile HttpClientRequest request;
        private Context context;
        private RecordParser parser;
        private HttpClientResponse response;
        // Written on the event loop only; read by the worker to ask for a resume.
        private volatile boolean paused;
        private volatile boolean timedOut;
        // Volatile with the request: a worker that gave up before the request got a connection cancels it here.
        private volatile boolean finished;

        private Answer(boolean lines) {
            this.lines = lines;
        }

        /** On the event loop: sends the request and prepares to receive the answer. */
        private void start(HttpClientRequest request, Buffer payload) {
            this.context = Vertx.currentContext();
            this.request = request;
            if (finished) {
                request.reset();
                return;
            }
            long timer = vertx.setTimer(firstByteTimeoutMs, id -> {
                timedOut = true;
                request.reset(0, new NoAnswerInTime("no answer within " + firstByteTimeoutMs + " ms"));
            });
            request.response().onComplete(responded -> {
                vertx.cancelTimer(timer);
                if (responded.failed()) {
                    headers.completeExceptionally(responded.cause());
                    return;
                }
                HttpClientResponse answered = responded.result();
                if (lines && answered.statusCode() / 100 == 2) {
                    RecordParser lineParser = RecordParser.newDelimited("\n", answered).maxRecordSize(LINE_BYTES_MAX);
                    lineParser.exceptionHandler(received::add);
                    lineParser.endHandler(v -> received.add(END));
                    lineParser.handler(line -> {
                        received.add(line.toString(StandardCharsets.UTF_8));
                        if (!paused && received.size() >= LINES_AHEAD_MAX) {
                            paused = true;
                            lineParser.pause();
                        }
                    });
                    parser = lineParser;
                } else {
                    answered.body().onComplete(read -> {
                        if (read.succeeded()) {
                            body.complete(read.result());
                        } else {
                            body.completeExceptionally(read.cause());
                        }
                    });
                }
                headers.complete(answered);
            });
            request.end(payload);
        }

        private void awaitHeaders() throws IOException, InterruptedException {
            try {
                // The first-byte timer starts once a connection is had; this bounds the wait for one too.
                response = headers.get(connectTimeoutMs + firstByteTimeoutMs, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                cancel();
                throw new NoAnswerInTime("no connection and answer within " + (connectTimeoutMs + firstByteTimeoutMs) + " ms");
            } catch (ExecutionException e) {
                throw noAnswer(e.getCause());
            } catch (InterruptedException e) {
                cancel();
                throw e;
            }
        }

        private IOException noAnswer(Throwable cause) {
            if (timedOut || cause instanceof NoAnswerInTime) {
                return new NoAnswerInTime("no answer within " + firstByteTimeoutMs + " ms");
            }
            if (cause instanceof HttpClosedException) {
                return new ClosedWithoutAnswer(cause);
            }
            return cause instanceof IOException io ? io : new IOException(String.valueOf(cause.getMessage()), cause);
        }

        int status() {
            return response.statusCode();
        }

        /** The whole body (of an answer not read as lines, or of one with an error status). */
        String text() throws IOException, InterruptedException {
            try {
                return body.get().toString(StandardCharsets.UTF_8);
            } catch (ExecutionException e) {
                throw new IOException("the connection broke while reading the answer: " + e.getCause().getMessage(), e.getCause());
            } finally {
                finished = true;
            }
        }

        /** The next line of a streamed body, without its line break; null at the end of the body. */
        String nextLine() throws IOException, InterruptedException {
            Object item = received.poll();
            if (item == null) {
                resumeIfPaused();
                item = received.take();
            }
            if (item == END) {
                finished = true;
                return null;
            }
            if (item instanceof Throwable t) {
                finished = true;
                throw new IOException(String.valueOf(t.getMessage()), t);
            }
            String line = (String) item;
            return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        }

        private void resumeIfPaused() {
            if (paused) {
                context.runOnContext(v -> {
                    if (paused) {
                        paused = false;
                        parser.resume();
                    }
                });
            }
        }

        /** Stops the upstream now: its connection is closed, which is how an HTTP/1.1 server learns the client left. */
        void cancel() {
            finished = true;
            HttpClientRequest sent = request;
            if (sent != null) {
                context.runOnContext(v -> sent.reset());
            }
        }

        /**
         * A body read to its end leaves its connection to the next request; a stream that answered everything
         * ([DONE]) gets a moment to end its response, else (or when it was not read to its end) the connection
         * is dropped rather than given back mid-answer.
         */
        @Override
        public void close() {
            if (finished || parser == null) { // no parser: read whole, or an error status (its body is drained)
                return;
            }
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(END_WAIT_MS);
            resumeIfPaused();
            try {
                while (true) {
                    long left = deadline - System.nanoTime();
                    Object item = left <= 0 ? null : received.poll(left, TimeUnit.NANOSECONDS);
                    if (item == END || item instanceof Throwable) {
                        return;
                    }
                    if (item == null) {
                        break;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            cancel();
        }
    }
}
