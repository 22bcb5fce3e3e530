import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { Diff, Empty, ErrorBox, Loading, useLoad, when } from "../ui";

// Rows as the viewer reads them (`user` is null for system rows).
type Entry = Omit<Schemas["ActivityLog"], "user"> & { user: { email: string } | null };
type Filters = {
  start_date: string;
  end_date: string;
  users: string[];
  scopes: string[];
  activities: string[];
  search_text: string;
  detail_filters: string;
};
const NO_FILTERS: Filters = { start_date: "", end_date: "", users: [], scopes: [], activities: [], search_text: "", detail_filters: "" };

const cursorOf = (next: string | null | undefined) =>
  next ? (new URL(next, window.location.origin).searchParams.get("cursor") ?? undefined) : undefined;
const selected = (event: Event) => [...(event.currentTarget as HTMLSelectElement).selectedOptions].map((o) => o.value);
const isoOrUndefined = (local: string) => (local ? new Date(local).toISOString() : undefined);

function query(filters: Filters, cursor?: string) {
  return {
    start_date: isoOrUndefined(filters.start_date),
    end_date: isoOrUndefined(filters.end_date),
    users: filters.users.length ? filters.users : undefined,
    scopes: filters.scopes.length ? filters.scopes : undefined,
    activities: filters.activities.length ? filters.activities : undefined,
    search_text: filters.search_text || undefined,
    detail_filters: filters.detail_filters || undefined,
    cursor,
  };
}

const CSV_LIST = { querySerializer: { array: { style: "form" as const, explode: false } } };

/** The advanced activity log of a project: every filter, cursor paging, each entry's diff. */
export function Activity({ projectId, onOpenItem }: { projectId: number; onOpenItem: (scope: string, itemId: string) => void }) {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [pages, setPages] = useState<Entry[][]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [moreError, setMoreError] = useState<string>();
  const [open, setOpen] = useState<string | null>(null);

  const available = useLoad(
    () =>
      must(
        api.GET("/api/projects/{project_id}/advanced_activity_logs/available_filters", {
          params: { path: { project_id: projectId } },
        }),
      ),
    [projectId],
  );
  const first = useLoad(async () => {
    const page = await must(
      api.GET("/api/projects/{project_id}/advanced_activity_logs", {
        params: { path: { project_id: projectId }, query: query(filters) as never },
        ...CSV_LIST,
      }),
    );
    setPages([page.results as unknown as Entry[]]);
    setNext(cursorOf(page.next));
    return page;
  }, [projectId, filters]);

  async function loadMore() {
    setMoreError(undefined);
    try {
      const page = await must(
        api.GET("/api/projects/{project_id}/advanced_activity_logs", {
          params: { path: { project_id: projectId }, query: query(filters, next) as never },
          ...CSV_LIST,
        }),
      );
      setPages((p) => [...p, page.results as unknown as Entry[]]);
      setNext(cursorOf(page.next));
    } catch (error) {
      setMoreError((error as Error).message);
    }
  }

  const statics = available.data?.static_filters;
  const entries = pages.flat();
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Activity log</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <label>
          From
          <input
            type="datetime-local"
            value={draft.start_date}
            onInput={(e) => setDraft({ ...draft, start_date: e.currentTarget.value })}
          />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.end_date} onInput={(e) => setDraft({ ...draft, end_date: e.currentTarget.value })} />
        </label>
        <label>
          Users
          <select multiple onChange={(e) => setDraft({ ...draft, users: selected(e) })}>
            {statics?.users.map((u) => (
              <option key={u.value} value={u.value} selected={draft.users.includes(u.value)}>
                {u.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Scopes
          <select multiple onChange={(e) => setDraft({ ...draft, scopes: selected(e) })}>
            {statics?.scopes.map((s) => (
              <option key={s.value} selected={draft.scopes.includes(s.value)}>
                {s.value}
              </option>
            ))}
          </select>
        </label>
        <label>
          Activities
          <select multiple onChange={(e) => setDraft({ ...draft, activities: selected(e) })}>
            {statics?.activities.map((a) => (
              <option key={a.value} selected={draft.activities.includes(a.value)}>
                {a.value}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search text
          <input type="search" value={draft.search_text} onInput={(e) => setDraft({ ...draft, search_text: e.currentTarget.value })} />
        </label>
        <label class="wide">
          Detail filters (JSON)
          <input
            type="text"
            placeholder='{"changes[].field": {"operation": "exact", "value": "name"}}'
            value={draft.detail_filters}
            onInput={(e) => setDraft({ ...draft, detail_filters: e.currentTarget.value })}
          />
        </label>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorBox message={available.error} />
      <ErrorBox message={first.error} />
      <Loading when={first.loading} />
      {!first.loading && !first.error && !entries.length && <Empty>No activity matches these filters.</Empty>}
      <ol class="entries">
        {entries.map((entry) => (
          <li key={entry.id}>
            <button
              type="button"
              class="entry"
              aria-expanded={open === entry.id}
              onClick={() => setOpen(open === entry.id ? null : entry.id)}
            >
              <span class="when">{when(entry.created_at)}</span>
              <span class="who">{entry.user?.email ?? (entry.is_system ? "system" : "unknown")}</span>
              <span class="what">
                {entry.activity} {entry.scope} {String((entry.detail as { name?: string } | null)?.name ?? entry.item_id ?? "")}
              </span>
            </button>
            {open === entry.id && (
              <div class="detail">
                <Diff changes={((entry.detail as { changes?: [] } | null)?.changes ?? []) as never} />
                {entry.item_id && (
                  <button type="button" class="link" onClick={() => onOpenItem(entry.scope, entry.item_id!)}>
                    History of this {entry.scope}
                  </button>
                )}
              </div>
            )}
          </li>
        ))}
      </ol>
      <ErrorBox message={moreError} />
      {next && (
        <button type="button" onClick={loadMore}>
          Load more
        </button>
      )}
    </section>
  );
}

/** Every change to one resource, newest first. */
export function ItemHistory({ projectId, scope, itemId }: { projectId: number; scope: string; itemId: string }) {
  const history = useLoad(
    () =>
      must(
        api.GET("/api/projects/{project_id}/advanced_activity_logs", {
          params: { path: { project_id: projectId }, query: { scopes: [scope], item_ids: [itemId] } as never },
          ...CSV_LIST,
        }),
      ),
    [projectId, scope, itemId],
  );
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">
        History of {scope} {itemId}
      </h2>
      <ErrorBox message={history.error} />
      <Loading when={history.loading} />
      {history.data && !history.data.results.length && <Empty>Nothing was recorded for this item.</Empty>}
      <ol class="timeline">
        {(history.data?.results as unknown as Entry[] | undefined)?.map((entry) => (
          <li key={entry.id}>
            <h3>
              {entry.activity} by {entry.user?.email ?? "system"} · {when(entry.created_at)}
            </h3>
            <Diff changes={((entry.detail as { changes?: [] } | null)?.changes ?? []) as never} />
          </li>
        ))}
      </ol>
    </section>
  );
}
