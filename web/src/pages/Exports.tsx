import { useEffect, useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { currentToken } from "../session";
import { ErrorBox } from "../ui";

type Job = Schemas["Export"];
const POLL_MS = 1000;

/** Starts an export of the project's activity, follows its progress, then downloads the file. */
export function Exports({ projectId }: { projectId: number }) {
  const [format, setFormat] = useState<"csv" | "xlsx">("csv");
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!job || job.status === "complete" || job.status === "failed" || job.status === "expired") return;
    const timer = setTimeout(async () => {
      try {
        setJob(await must(api.GET("/api/projects/{project_id}/exports/{id}", { params: { path: { project_id: projectId, id: job.id } } })));
      } catch (e) {
        setError((e as Error).message);
      }
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [job, projectId]);

  async function start(event: Event) {
    event.preventDefault();
    setError(undefined);
    try {
      const accepted = await must(
        api.POST("/api/projects/{project_id}/advanced_activity_logs/export", {
          params: { path: { project_id: projectId } },
          body: { format, filters: {} } as never,
        }),
      );
      setJob(
        await must(api.GET("/api/projects/{project_id}/exports/{id}", { params: { path: { project_id: projectId, id: accepted.id } } })),
      );
    } catch (e) {
      setError((e as Error).message);
    }
  }

  // The file needs the Authorization header, so it is fetched and handed to the browser as a blob.
  async function download() {
    if (!job) return;
    const response = await fetch(`/api/projects/${projectId}/exports/${job.id}/content/`, {
      headers: { Authorization: `Bearer ${currentToken()}` },
    });
    if (!response.ok) return setError(`Download failed with status ${response.status}.`);
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: job.filename ?? `activity.${format}` });
    link.click();
    URL.revokeObjectURL(url);
  }

  const percent = job?.progress.percent ?? (job?.status === "complete" ? 100 : 0);
  return (
    <section aria-labelledby="exports-title">
      <h2 id="exports-title">Export the activity log</h2>
      <form class="inline" onSubmit={start}>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.currentTarget.value as "csv" | "xlsx")}>
            <option value="csv">CSV</option>
            <option value="xlsx">Excel (XLSX)</option>
          </select>
        </label>
        <button type="submit" disabled={!!job && (job.status === "pending" || job.status === "running")}>
          Start export
        </button>
      </form>
      <ErrorBox message={error} />
      {job && (
        <div class="export-status">
          <label>
            Export {job.status} ({job.progress.rows_written} rows)
            <progress max={100} value={percent} />
          </label>
          {job.status === "failed" && <ErrorBox message={job.exception ?? "The export failed."} />}
          {job.status === "expired" && <ErrorBox message="This export's file was deleted after its lifetime: start a new export." />}
          {job.status === "complete" && (
            <button type="button" onClick={download}>
              Download {job.filename}
            </button>
          )}
        </div>
      )}
    </section>
  );
}
