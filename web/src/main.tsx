import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, must } from "./api/client";
import { Activity, ItemHistory } from "./pages/Activity";
import { Alerts } from "./pages/Alerts";
import { Destinations } from "./pages/Destinations";
import { Exports } from "./pages/Exports";
import { Inbox } from "./pages/Inbox";
import { currentToken, signIn, signOut, takeTokenFromLink } from "./session";
import "./styles.css";
import { ErrorBox, Loading, useLoad } from "./ui";

const PAGES = [
  { path: "activity", label: "Activity" },
  { path: "exports", label: "Export" },
  { path: "inbox", label: "Change requests" },
  { path: "alerts", label: "Alerts" },
  { path: "destinations", label: "Destinations" },
] as const;

const route = () => window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  return (
    <main class="sign-in">
      <h1>Edge audit viewer</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          signIn(key);
          onSignedIn();
        }}
      >
        <label for="api-key">Personal API key</label>
        <input id="api-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <button type="submit">Sign in</button>
        <p class="hint">
          The key stays in this tab (sessionStorage) and is sent only to this API. An admin can also send you a viewer link.
        </p>
      </form>
    </main>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const [path, setPath] = useState(route());
  const [projectId, setProjectId] = useState<number | null>(null);
  useEffect(() => {
    const onHash = () => setPath(route());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const projects = useLoad(() => must(api.GET("/api/projects", { params: { query: { limit: 100 } as never } })), []);
  useEffect(() => {
    const first = projects.data?.results[0];
    if (projectId === null && first) setProjectId(first.id);
  }, [projects.data, projectId]);

  const [first, ...rest] = path;
  const page = first || "activity";
  const openItem = (scope: string, itemId: string) => {
    window.location.hash = `#/item/${encodeURIComponent(scope)}/${encodeURIComponent(itemId)}`;
  };
  return (
    <div class="shell">
      <header>
        <h1>Edge audit</h1>
        <label>
          Project
          <select value={projectId ?? ""} onChange={(e) => setProjectId(Number(e.currentTarget.value))}>
            {projects.data?.results.map((p) =>
              p ? (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ) : null,
            )}
          </select>
        </label>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={page === p.path ? "page" : undefined}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main>
        <ErrorBox message={projects.error} />
        <Loading when={projects.loading} />
        {projectId !== null && page === "activity" && <Activity projectId={projectId} onOpenItem={openItem} />}
        {projectId !== null && page === "item" && rest[0] && rest[1] && (
          <ItemHistory projectId={projectId} scope={rest[0]} itemId={rest[1]} />
        )}
        {projectId !== null && page === "exports" && <Exports projectId={projectId} />}
        {projectId !== null && page === "inbox" && <Inbox projectId={projectId} />}
        {projectId !== null && page === "alerts" && <Alerts projectId={projectId} />}
        {projectId !== null && page === "destinations" && <Destinations projectId={projectId} />}
      </main>
    </div>
  );
}

function App() {
  takeTokenFromLink();
  const [signedIn, setSignedIn] = useState(!!currentToken());
  return signedIn ? (
    <Shell
      onSignOut={() => {
        signOut();
        setSignedIn(false);
      }}
    />
  ) : (
    <SignIn onSignedIn={() => setSignedIn(true)} />
  );
}

render(<App />, document.getElementById("root")!);
