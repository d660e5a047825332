/**
 * The embedded reference LLM inference engine: a pure-Java implementation of the llama2.c
 * transformer (RMSNorm, rotary embeddings, grouped-query attention with a per-sequence KV cache,
 * SwiGLU feed-forward, classifier shared with the token embedding) that reproduces the reference
 * C implementation's greedy output on the stories260K checkpoint byte for byte.
 *
 * <p><b>Entry points.</b> {@link dev.tokenmarket.inference.LlamaModel} loads a llama2.c legacy
 * fp32 checkpoint (or builds seeded synthetic weights), {@link dev.tokenmarket.inference.Tokenizer}
 * loads the matching BPE tokenizer file, and {@link dev.tokenmarket.inference.ReferenceEngine}
 * generates text for any number of concurrent callers, streaming pieces to a
 * {@link dev.tokenmarket.inference.TokenListener} that can cancel by returning false.
 *
 * <p><b>Chat template.</b> The TinyStories models are not chat-tuned, so
 * {@link dev.tokenmarket.inference.ChatTemplate} joins the message contents with {@code "\n"} and
 * does not render roles. One user message with empty content renders to the empty prompt, which
 * yields the golden text.
 *
 * <p><b>Semantics.</b> The prompt is encoded with BOS. Generation ends after {@code maxTokens}
 * completion tokens or when the context window is full ("length"), when the model emits EOS or BOS
 * or a stop sequence appears ("stop"; neither the special token nor the stop sequence is returned),
 * or when the listener returns false ("cancelled"). Sampling: temperature 0 is greedy; otherwise
 * top-k, then top-p, on softmax(logits / temperature), with a per-request seeded PRNG.
 *
 * <p><b>Limits.</b> Only the llama2.c legacy fp32 format (no magic number) is read; every weight
 * matrix must fit one Java array (under 2^31 floats), see the bounds in
 * {@link dev.tokenmarket.inference.ModelConfig}. {@code promptTokens + maxTokens} must not exceed
 * the context length; at most {@value dev.tokenmarket.inference.ReferenceEngine#STOP_SEQUENCES_MAX}
 * stop sequences of at most {@value dev.tokenmarket.inference.ReferenceEngine#STOP_SEQUENCE_CHARS_MAX}
 * characters. Computation is fp32 (or int8 weights with fp32 activations); no GPU.
 */
package dev.tokenmarket.inference;
