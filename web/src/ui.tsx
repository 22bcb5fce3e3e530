import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";

/** Runs `load` when its dependencies change; exposes data, error and a reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const run = useCallback(() => {
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load().then(
      (data) => setState({ data, loading: false }),
      (error: Error) => setState({ error: error.message, loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export const ErrorBox = ({ message }: { message?: string }) =>
  message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;

export const Empty = ({ children }: { children: ComponentChildren }) => <p class="empty">{children}</p>;

export const Loading = ({ when }: { when: boolean }) =>
  when ? (
    <p class="loading" aria-live="polite">
      Loading…
    </p>
  ) : null;

const show = (value: unknown) =>
  value === undefined || value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value, null, 1);

interface Change {
  type?: string;
  action?: string;
  field?: string | null;
  before?: unknown;
  after?: unknown;
}

/** A before/after table of an activity's `detail.changes` (or any two objects). */
export function Diff({ changes }: { changes: Change[] }) {
  if (!changes.length) return <Empty>No field-level changes recorded.</Empty>;
  return (
    <table class="diff">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change, i) => (
          <tr key={i}>
            <th scope="row">{change.field ?? change.action ?? change.type}</th>
            <td class="before">
              <pre>{show(change.before)}</pre>
            </td>
            <td class="after">
              <pre>{show(change.after)}</pre>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `{description, before, after}` of a change request as the same table. */
export function IntentDiff({ before, after }: { before: Record<string, unknown> | null; after: Record<string, unknown> | null }) {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  return <Diff changes={fields.map((field) => ({ field, before: before?.[field], after: after?.[field] }))} />;
}

/** A small bar chart of counts, labelled for screen readers. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const max = Math.max(1, ...values);
  const width = 240;
  const bar = width / Math.max(1, values.length);
  return (
    <svg class="sparkline" viewBox={`0 0 ${width} 40`} role="img" aria-label={`${label}: ${values.join(", ")}`}>
      {values.map((v, i) => (
        <rect key={i} x={i * bar} y={40 - (v / max) * 38} width={Math.max(1, bar - 1)} height={(v / max) * 38} />
      ))}
    </svg>
  );
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");
