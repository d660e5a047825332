package dev.tokenmarket.inference;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Continuous batching. One scheduler thread steps every active sequence together: each step is a
 * single forward pass (one read of the weights) over the next token of every decoding sequence
 * plus prompt chunks of sequences still reading their prompt. Sequences join and leave between
 * steps. Sampled tokens go to a per-sequence queue that the calling thread drains, so slow
 * listeners never stall other sequences; a sequence with too many undelivered tokens simply sits
 * out steps until its caller catches up.
 */
final class BatchScheduler implements AutoCloseable {

    /** Undelivered tokens a sequence may run ahead of its caller. */
    static final int BACKLOG_MAX = 16;
    /** How often a waiting caller checks that the scheduler thread is still alive. */
    private static final long LIVENESS_CHECK_MILLIS = 1_000;
    /** Longest the idle scheduler sleeps before re-checking its state, as a safety net. */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** A token sampled for a sequence, with log-probabilities when requested. */
    record TokenEvent(int token, double logprob, int[] topTokens, double[] topLogprobs) {
    }

    /** The scheduler could not run the sequence; the caller rethrows the cause. */
    record FailureEvent(RuntimeException cause) {
    }

    /** Everything needed to start a sequence, prepared (and validated) by the calling thread. */
    record Submission(int[] promptTokens, int completionMax, GenerationRequest request, GenerationOptions options,
                      long seed) {
    }

    /** The calling thread's view of a submitted sequence. */
    static final class Handle {
        final Submission submission;
        final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
        final AtomicInteger undelivered = new AtomicInteger();
        volatile boolean cancelled;
        private final BatchScheduler scheduler;

        Handle(Submission submission, BatchScheduler scheduler) {
            this.submission = submission;
            this.scheduler = scheduler;
        }

        /** Next event for the caller; wakes the scheduler if this frees the sequence to run again. */
        Object take() throws InterruptedException {
            Object event;
            // Polling with a timeout lets a caller notice a scheduler thread that died instead of waiting forever.
            while ((event = events.poll(LIVENESS_CHECK_MILLIS, TimeUnit.MILLISECONDS)) == null) {
                if (!scheduler.thread.isAlive()) {
                    return new FailureEvent(new IllegalStateException("the inference scheduler thread has stopped"));
                }
            }
            if (undelivered.decrementAndGet() == BACKLOG_MAX - 1) {
                scheduler.wake();
            }
            return event;
        }

        /** Stops computing this sequence before the next step. */
        void cancel() {
            cancelled = true;
            scheduler.wake();
        }
    }

    /** Scheduler-side state of an admitted sequence. */
    private static final class Slot {
        final Handle handle;
        final Sequence sequence;
        final boolean logprobs;
        final long intervalNanos;
        long originNanos;
        long dueNanos;

        Slot(Handle handle, Sequence sequence, boolean logprobs, long intervalNanos) {
            this.handle = handle;
            this.sequence = sequence;
            this.logprobs = logprobs;
            this.intervalNanos = intervalNanos;
        }
    }

    private final LlamaModel model;
    private final Compute compute;
    private final EngineOptions options;
    private final ArrayDeque<Handle> waiting = new ArrayDeque<>();
    private final Thread thread;
    private volatile boolean running = true;
    // Written by the scheduler thread only; read by anyone for monitoring.
    private volatile long stepsTotal;
    private volatile long rowsTotal;
    private volatile long tokensTotal;
    private volatile int activeCount;

    BatchScheduler(LlamaModel model, EngineOptions options, String name) {
        this.model = model;
        this.options = options;
        this.compute = new Compute(Kernels.best(), options.threads());
        this.thread = Thread.ofPlatform().name("inference-scheduler-" + name).daemon(true).unstarted(this::loop);
        thread.start();
    }

    Handle submit(Submission submission) {
        Handle handle = new Handle(submission, this);
        synchronized (waiting) {
            if (!running) {
                throw new IllegalStateException("the inference engine is closed");
            }
            if (waiting.size() >= options.waitingMax()) {
                throw new InferenceException(InferenceException.Reason.OVERLOADED, "the engine already has "
                        + waiting.size() + " requests waiting for one of " + options.sequencesMax()
                        + " sequence slots; retry later");
            }
            waiting.add(handle);
        }
        wake();
        return handle;
    }

    EngineStats stats() {
        int waitingCount;
        synchronized (waiting) {
            waitingCount = waiting.size();
        }
        return new EngineStats(activeCount, waitingCount, stepsTotal, rowsTotal, tokensTotal);
    }

    void wake() {
        LockSupport.unpark(thread);
    }

    private void loop() {
        ModelConfig config = model.config();
        ForwardPass pass = new ForwardPass(model, compute, options.rowsPerStepMax(), options.sequencesMax());
        List<Slot> active = new ArrayList<>();
        List<Slot> stepSlots = new ArrayList<>();
        List<ForwardPass.Chunk> chunks = new ArrayList<>();
        while (running) {
            try {
                step(pass, config, active, stepSlots, chunks);
            } catch (RuntimeException | Error e) {
                // Anything failing outside a forward pass (a bug) fails the active sequences but keeps serving.
                RuntimeException cause = e instanceof RuntimeException r ? r
                        : new IllegalStateException("inference scheduler failed: " + e, e);
                for (Slot slot : active) {
                    push(slot.handle, new FailureEvent(cause));
                }
                active.clear();
            }
        }
        failAll(active);
    }

    /** One scheduling round: admit, pick the rows of this step, run it and hand out the sampled tokens. */
    private void step(ForwardPass pass, ModelConfig config, List<Slot> active, List<Slot> stepSlots,
                      List<ForwardPass.Chunk> chunks) {
        admit(active, config);
        active.removeIf(slot -> slot.handle.cancelled || slot.sequence.finished());
        activeCount = active.size();
        long now = System.nanoTime();
        long nextDue = Long.MAX_VALUE;
        stepSlots.clear();
        chunks.clear();
        int rows = 0;
        // Decoding sequences first (one row each), so a long prompt never delays running streams.
        for (Slot slot : active) {
            if (slot.sequence.pendingRows() != 1 || slot.handle.undelivered.get() >= BACKLOG_MAX) {
                continue;
            }
            if (slot.dueNanos > now) {
                nextDue = Math.min(nextDue, slot.dueNanos);
                continue;
            }
            chunks.add(slot.sequence.nextChunk(1));
            stepSlots.add(slot);
            rows++;
        }
        for (Slot slot : active) {
            if (slot.sequence.pendingRows() > 1 && rows < options.rowsPerStepMax()) {
                ForwardPass.Chunk chunk = slot.sequence.nextChunk(options.rowsPerStepMax() - rows);
                chunks.add(chunk);
                stepSlots.add(slot);
                rows += chunk.count();
            }
        }
        if (chunks.isEmpty()) {
            long park = nextDue == Long.MAX_VALUE ? IDLE_PARK_NANOS : Math.min(IDLE_PARK_NANOS, nextDue - now);
            LockSupport.parkNanos(this, park);
            return;
        }
        try {
            float[] logits = pass.forward(chunks);
            stepsTotal++;
            rowsTotal += rows;
            for (int i = 0; i < stepSlots.size(); i++) {
                Slot slot = stepSlots.get(i);
                if (slot.sequence.readyToSample()) {
                    emit(slot, logits, i * config.vocabSize());
                }
            }
        } catch (RuntimeException | Error e) {
            // A failing step (a bug, or out of memory) fails the sequences in it, not the scheduler.
            RuntimeException cause = e instanceof RuntimeException r ? r
                    : new IllegalStateException("inference step failed: " + e, e);
            for (Slot slot : stepSlots) {
                slot.sequence.finish();
                push(slot.handle, new FailureEvent(cause));
            }
        }
    }

    private void admit(List<Slot> active, ModelConfig config) {
        while (active.size() < options.sequencesMax()) {
            Handle handle;
            synchronized (waiting) {
                handle = waiting.poll();
            }
            if (handle == null) {
                return;
            }
            if (handle.cancelled) {
                continue;
            }
            Submission s = handle.submission;
            try {
                Sampler sampler = new Sampler(config.vocabSize(), s.request(), s.options(), s.seed());
                Sequence sequence = new Sequence(config, s.promptTokens(), s.completionMax(), sampler);
                double rate = s.options().tokensPerSecondMax();
                long interval = rate > 0 ? (long) (1e9 / rate) : 0;
                active.add(new Slot(handle, sequence, s.options().logprobs(), interval));
            } catch (OutOfMemoryError e) {
                push(handle, new FailureEvent(new IllegalStateException("no memory for the sequence's KV cache", e)));
            }
        }
    }

    private void emit(Slot slot, float[] logits, int offset) {
        Sequence sequence = slot.sequence;
        int token = sequence.sampleNext(logits, offset);
        tokensTotal++;
        Sampler sampler = sequence.sampler();
        TokenEvent event = slot.logprobs
                ? new TokenEvent(token, sampler.lastLogprob(), sampler.lastTopTokens(), sampler.lastTopLogprobs())
                : new TokenEvent(token, Double.NaN, new int[0], new double[0]);
        if (slot.intervalNanos > 0) {
            long now = System.nanoTime();
            if (sequence.completionCount() <= 1) {
                slot.originNanos = now;
            }
            slot.dueNanos = slot.originNanos + sequence.completionCount() * slot.intervalNanos;
        }
        push(slot.handle, event);
    }

    private static void push(Handle handle, Object event) {
        handle.undelivered.incrementAndGet();
        handle.events.add(event);
    }

    private void failAll(List<Slot> active) {
        RuntimeException closed = new IllegalStateException("the inference engine was closed during generation");
        for (Slot slot : active) {
            push(slot.handle, new FailureEvent(closed));
        }
        synchronized (waiting) {
            for (Handle handle : waiting) {
                push(handle, new FailureEvent(closed));
            }
            waiting.clear();
        }
    }

    @Override
    public void close() {
        synchronized (waiting) {
            running = false;
        }
        wake();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        compute.close();
    }
}
