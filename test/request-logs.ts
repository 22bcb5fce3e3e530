import { afterAll } from "vitest";
import { REQUEST_LOG_DELAY_MS } from "../src/app";

// Each request's log line is written a moment after its answer (src/app.ts): a file's last lines
// must reach the runner before it closes the file's worker.
afterAll(() => scheduler.wait(REQUEST_LOG_DELAY_MS * 5));
