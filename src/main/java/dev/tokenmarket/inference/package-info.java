/**
 * The embedded reference LLM inference engine: a pure-Java implementation of the llama2.c
 * transformer (RMSNorm, rotary embeddings, grouped-query attention with a per-sequence KV cache,
 * SwiGLU feed-forward, classifier shared with the token embedding) that reproduces the reference
 * C implementation's greedy output on the stories260K checkpoint byte for byte.
 *
 * <p><b>Entry points.</b> {@link dev.tokenmarket.inference.LlamaModel} loads a llama2.c legacy
 * fp32 checkpoint (or builds seeded synthetic weights, or an int8 copy), and
 * {@link dev.tokenmarket.inference.Tokenizer} loads the matching BPE tokenizer file.
 * {@link dev.tokenmarket.inference.ReferenceEngine} serves any number of concurrent callers:
 * {@code generate} blocks its caller and streams text pieces to a
 * {@link dev.tokenmarket.inference.TokenListener} on the caller's thread; returning false cancels.
 * The richer overload with {@link dev.tokenmarket.inference.GenerationOptions} adds presence and
 * frequency penalties, log-probabilities with top alternatives, and pacing (max tokens/second).
 *
 * <p><b>Model files.</b> {@link dev.tokenmarket.inference.ModelDownloader} fetches a checkpoint or
 * tokenizer over HTTP(S) into a directory, bounded by a connect timeout, a transfer deadline and a
 * size limit; the file appears under its final name only after its SHA-256 matches (temporary file,
 * then atomic rename). Failures such as no network or a wrong checksum are returned as outcomes with
 * a clear message, so the caller can fall back to the synthetic model.
 *
 * <p><b>Chat template.</b> The TinyStories models are not chat-tuned, so
 * {@link dev.tokenmarket.inference.ChatTemplate} joins the message contents with {@code "\n"} and
 * does not render roles. One user message with empty content renders to the empty prompt, which
 * yields the golden text.
 *
 * <p><b>Semantics.</b> The prompt is encoded with BOS. Generation ends after {@code maxTokens}
 * completion tokens or when the context window is full ("length"), when the model emits EOS or BOS
 * or a stop sequence appears ("stop"; neither the special token nor the stop sequence is returned
 * or counted), or when the listener returns false ("cancelled"). Sampling: temperature 0 is greedy;
 * otherwise top-k, then top-p (both by heap selection, no full sort), on softmax(logits / temperature)
 * with a per-request seeded PRNG. The llama2.c golden run ({@code steps=256}) corresponds to
 * {@code maxTokens=256}: 256 sampled tokens, of which the last is never fed back.
 *
 * <p><b>How it runs.</b> One scheduler thread per engine does continuous batching: each step is one
 * forward pass (one read of every weight) over the next token of all decoding sequences plus chunks
 * of prompts still being read, matrix-matrix. Sequences join and leave between steps; a cancelled
 * sequence leaves before the next step. Kernels use the Java Vector API when
 * {@code jdk.incubator.vector} is in the boot layer and plain loops otherwise (the system property
 * {@code tokenmarket.inference.scalar=true} forces the plain loops); every output element
 * is computed in a fixed order, so a sequence's output does not depend on what it is batched with
 * or on how rows are split over the worker threads.
 *
 * <p><b>Limits.</b> Checkpoints: the llama2.c legacy fp32 format and the engine's own int8 format
 * (written by {@link dev.tokenmarket.inference.LlamaModel#save}); every weight matrix must fit one
 * Java array (under 2^31 values), see the bounds in {@link dev.tokenmarket.inference.ModelConfig}.
 * {@code promptTokens + maxTokens} must not exceed the context length; at most
 * {@value dev.tokenmarket.inference.ReferenceEngine#STOP_SEQUENCES_MAX} stop sequences of at most
 * {@value dev.tokenmarket.inference.ReferenceEngine#STOP_SEQUENCE_CHARS_MAX} characters; concurrency,
 * step size and queue length are bounded by {@link dev.tokenmarket.inference.EngineOptions}
 * (requests beyond the queue fail with reason OVERLOADED). CPU only, fp32 activations.
 */
package dev.tokenmarket.inference;
