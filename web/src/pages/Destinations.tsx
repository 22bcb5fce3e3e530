import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client";
import { Empty, ErrorBox, Loading, useLoad, when } from "../ui";

type Destination = Schemas["Destination"];

/** Destinations of the project with their delivery log; a failed delivery can be sent again. */
export function Destinations({ projectId }: { projectId: number }) {
  const destinations = useLoad(
    () => must(api.GET("/api/projects/{project_id}/destinations", { params: { path: { project_id: projectId } } })),
    [projectId],
  );
  const [open, setOpen] = useState<string | null>(null);
  const list = destinations.data?.results ?? [];
  return (
    <section aria-labelledby="destinations-title">
      <h2 id="destinations-title">Destinations</h2>
      <ErrorBox message={destinations.error} />
      <Loading when={destinations.loading} />
      {destinations.data && !list.length && <Empty>No destinations in this project.</Empty>}
      <ul class="cards">
        {list.map((destination) => (
          <li key={destination.id}>
            <h3>{destination.name}</h3>
            <p>
              <span class="badge">{destination.type}</span>{" "}
              {destination.enabled ? "enabled" : `disabled${destination.disabled_reason ? `: ${destination.disabled_reason}` : ""}`} · last
              success {when(destination.last_success_at)}
            </p>
            <button
              type="button"
              aria-expanded={open === destination.id}
              onClick={() => setOpen(open === destination.id ? null : destination.id)}
            >
              {open === destination.id ? "Hide deliveries" : "Show deliveries"}
            </button>
            {open === destination.id && <Deliveries projectId={projectId} destination={destination as unknown as Destination} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Deliveries({ projectId, destination }: { projectId: number; destination: Destination }) {
  const path = { project_id: projectId, destination_id: destination.id };
  const deliveries = useLoad(
    () => must(api.GET("/api/projects/{project_id}/destinations/{destination_id}/deliveries", { params: { path } })),
    [destination.id],
  );
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();

  async function redeliver(deliveryId: string) {
    setError(undefined);
    try {
      await must(
        api.POST("/api/projects/{project_id}/destinations/{destination_id}/deliveries/{delivery_id}/redeliver", {
          params: { path: { ...path, delivery_id: deliveryId } },
        }),
      );
      setMessage("Queued for redelivery.");
      deliveries.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const list = deliveries.data?.results ?? [];
  return (
    <div>
      <ErrorBox message={deliveries.error} />
      <ErrorBox message={error} />
      {message && <output>{message}</output>}
      {deliveries.data && !list.length && <Empty>Nothing delivered yet.</Empty>}
      {list.length > 0 && (
        <table>
          <caption>Delivery log</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last response</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((delivery) => (
              <tr key={delivery.id}>
                <td>{delivery.event}</td>
                <td>{delivery.status}</td>
                <td>{delivery.attempt_count}</td>
                <td>{delivery.last_response_code ?? delivery.last_error ?? "—"}</td>
                <td>{when(delivery.updated_at)}</td>
                <td>
                  <button type="button" onClick={() => redeliver(delivery.id)}>
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
