const TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface SendResult {
  /** The receiver's status code, or null when no answer came (network error, timeout). */
  status: number | null;
  /** At most 64 KB of the answer. */
  body: string;
  retryAfter: string | null;
  durationMs: number;
  error: string | null;
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < MAX_RESPONSE_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value.subarray(0, MAX_RESPONSE_BYTES - total));
    total += value.byteLength;
  }
  if (total >= MAX_RESPONSE_BYTES) await reader.cancel().catch(() => {});
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(joined);
}

/**
 * One POST to a receiver: redirects are not followed (a 3xx is a failure like any non-2xx), the
 * whole exchange is bounded by 10 s and at most 64 KB of the answer is read.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
  const started = Date.now();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "user-agent": "edge-audit-notifications/1", ...headers },
      redirect: "manual",
      signal,
    });
    const text = await readCapped(response);
    return {
      status: response.status,
      body: text,
      retryAfter: response.headers.get("retry-after"),
      durationMs: Date.now() - started,
      error: null,
    };
  } catch (error) {
    const message = signal.aborted ? `no answer within ${TIMEOUT_MS / 1000} s` : error instanceof Error ? error.message : String(error);
    return { status: null, body: "", retryAfter: null, durationMs: Date.now() - started, error: message };
  }
}
