/**
 * A watch on a key or a prefix over the native API's Server-Sent Events:
 * events stream in as the member applies them, and the browser resumes
 * after a dropped connection from the last revision it saw (Last-Event-ID).
 */
import { useEffect, useState } from "preact/hooks";
import { watchEvents } from "../api.js";
import { fromBase64, keyLabel, utf8 } from "../bytes.js";
import { naturalView, renderValue, TableHead } from "../view.js";

interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value: string;
  readonly revision: number;
  readonly previous: string | undefined;
}

/** The native API's event data, keys and values in base64 as the watch asks. */
interface EventData {
  readonly key: string;
  readonly value: string;
  readonly mod_revision: number;
  readonly prev_value?: string;
}

const SHOWN_EVENTS = 200;

const shown = (base64: string): string => {
  const bytes = fromBase64(base64);
  return renderValue(bytes, naturalView(bytes));
};

function eventOf(type: WatchEvent["type"], message: MessageEvent<string>): WatchEvent {
  const data = JSON.parse(message.data) as EventData;
  return {
    type,
    key: keyLabel(fromBase64(data.key)),
    value: type === "put" ? shown(data.value) : "",
    revision: data.mod_revision,
    previous: data.prev_value === undefined ? undefined : shown(data.prev_value),
  };
}

export function WatchPage() {
  const [target, setTarget] = useState<{ key: string; prefix: boolean } | undefined>(undefined);
  return (
    <section>
      <h1>Watch</h1>
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const fields = new FormData(event.currentTarget);
          setTarget({ key: String(fields.get("watch-key") ?? ""), prefix: fields.get("watch-prefix") === "on" });
        }}
      >
        <input name="watch-key" placeholder="key or prefix" required />
        <label>
          <input type="checkbox" name="watch-prefix" defaultChecked /> prefix
        </label>
        <button type="submit">Watch</button>
      </form>
      {target && <EventStream key={`${target.key}|${target.prefix}`} watched={target.key} prefix={target.prefix} />}
    </section>
  );
}

function EventStream({ watched, prefix }: { watched: string; prefix: boolean }) {
  const [events, setEvents] = useState<WatchEvent[]>([]);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = watchEvents(utf8(watched), prefix);
    const add = (type: WatchEvent["type"]) => (message: MessageEvent<string>) => setEvents((seen) => [eventOf(type, message), ...seen].slice(0, SHOWN_EVENTS));
    source.addEventListener("put", add("put"));
    source.addEventListener("delete", add("delete"));
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    return () => source.close();
  }, []);
  return (
    <>
      <p class={connected ? "good" : "muted"} data-testid="watch-state">
        {connected ? "watching" : "connecting"} {prefix ? "keys starting with" : "the key"} <span class="mono">{watched}</span>
      </p>
      <table class="events">
        <TableHead columns={["Revision", "Event", "Key", "Value", "Previous value"]} />
        <tbody>
          {events.map((event) => (
            <tr key={`${event.revision}/${event.key}`} data-event={event.type} data-key={event.key}>
              <td>{event.revision}</td>
              <td>{event.type}</td>
              <td class="mono">{event.key}</td>
              <td class="mono">{event.value}</td>
              <td class="mono">{event.previous ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
