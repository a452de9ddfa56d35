/**
 * What the recipes keep in the store: lock and election queues (who holds
 * each and since which revision, the fencing token) and the service
 * registry's instances with their leases.
 *
 * Both are found by reading keys, as any client could: an instance is a key
 * `services/<service>/<id>`, and a lock or election contender is a key
 * `<name>/<its lease id in hex>` bound to that lease. The holder of a queue
 * is its oldest contender; an election's leader has proclaimed a value.
 */
import { get, leaseHex, leaseTtl, prefixRange, range, type Kv } from "../api.js";
import { asText, keyLabel, utf8 } from "../bytes.js";
import { usePoll } from "../poll.js";
import { ErrorLine, naturalView, renderValue, TableHead } from "../view.js";

const POLL_MS = 2000;
/** Keys scanned for queues: the scan reads keys only, but a store of millions is out of reach of one page. */
const QUEUE_SCAN_LIMIT = 10_000;
const SERVICES = "services/";

interface Queue {
  readonly name: string;
  readonly holder: Kv;
  readonly waiting: number;
}

interface Instance {
  readonly service: string;
  readonly id: string;
  readonly description: string;
  readonly lease: string;
  readonly ttl: number;
}

export function RecipesPage() {
  const queues = usePoll(loadQueues, POLL_MS);
  const services = usePoll(loadInstances, POLL_MS);
  return (
    <section>
      <h1>Locks and elections</h1>
      <ErrorLine error={queues.error} />
      {queues.data && <QueueTable queues={queues.data.queues} />}
      {queues.data?.truncated && <p class="muted">Only the first {QUEUE_SCAN_LIMIT} keys were scanned for queues.</p>}
      <h1>Services</h1>
      <ErrorLine error={services.error} />
      {services.data && <InstanceTable instances={services.data} />}
    </section>
  );
}

/** The queue a key belongs to, when it is a contender's key: `<name>/<lease hex>` under that lease. */
function queueNameOf(kv: Kv): string | undefined {
  if (kv.lease === "0") return undefined;
  const label = keyLabel(kv.key);
  const suffix = `/${leaseHex(kv.lease)}`;
  return label.endsWith(suffix) && label.length > suffix.length ? label.slice(0, -suffix.length) : undefined;
}

async function loadQueues(): Promise<{ queues: Queue[]; truncated: boolean }> {
  const scan = await range(Uint8Array.of(0), { rangeEnd: Uint8Array.of(0), keysOnly: true, limit: QUEUE_SCAN_LIMIT });
  const contenders = new Map<string, Kv[]>();
  for (const kv of scan.kvs) {
    const name = queueNameOf(kv);
    if (name !== undefined && !name.startsWith(SERVICES)) contenders.set(name, [...(contenders.get(name) ?? []), kv]);
  }
  const queues = await Promise.all(
    [...contenders].map(async ([name, keys]) => {
      const oldest = keys.reduce((a, b) => (b.createRevision < a.createRevision ? b : a));
      // The scan read keys only; the holder's value is an election leader's proclamation.
      const holder = (await get(oldest.key)) ?? oldest;
      return { name, holder, waiting: keys.length - 1 };
    }),
  );
  return { queues, truncated: scan.more };
}

async function loadInstances(): Promise<Instance[]> {
  const listed = await prefixRange(utf8(SERVICES));
  return Promise.all(
    listed.kvs.map(async (kv) => {
      const [service = "", id = ""] = keyLabel(kv.key).slice(SERVICES.length).split("/");
      const ttl = kv.lease === "0" ? -1 : (await leaseTtl(kv.lease)).ttl;
      return { service, id, description: asText(kv.value) ?? "", lease: kv.lease, ttl };
    }),
  );
}

const QUEUE_COLUMNS = [
  "Name",
  "Held by (key)",
  { label: "Since revision", hint: "The holder key's create revision: a fencing token that grows with each new holder" },
  "Lease",
  "Waiting",
  "Proclaimed value",
];

function QueueTable({ queues }: { queues: readonly Queue[] }) {
  if (queues.length === 0) return <p class="muted">No lock or election is held.</p>;
  return (
    <table class="queues">
      <TableHead columns={QUEUE_COLUMNS} />
      <tbody>
        {queues.map(({ name, holder, waiting }) => (
          <tr data-queue={name}>
            <td class="mono">{name}</td>
            <td class="mono">{keyLabel(holder.key)}</td>
            <td data-field="token">{holder.createRevision}</td>
            <td class="mono">{leaseHex(holder.lease)}</td>
            <td>{waiting}</td>
            <td class="mono">{holder.value.length > 0 ? renderValue(holder.value, naturalView(holder.value)) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const INSTANCE_COLUMNS = [
  "Service",
  "Instance",
  "Description",
  "Lease",
  { label: "Health", hint: "An instance is listed while its lease lives: it heartbeats" },
];

function InstanceTable({ instances }: { instances: readonly Instance[] }) {
  if (instances.length === 0) return <p class="muted">No service instance is registered.</p>;
  return (
    <table class="services">
      <TableHead columns={INSTANCE_COLUMNS} />
      <tbody>
        {instances.map((instance) => (
          <tr data-instance={`${instance.service}/${instance.id}`}>
            <td>{instance.service}</td>
            <td class="mono">{instance.id}</td>
            <td class="mono">{instance.description}</td>
            <td class="mono">{instance.lease === "0" ? "none" : leaseHex(instance.lease)}</td>
            <td class={instance.ttl > 0 ? "good" : "bad"}>{instance.ttl > 0 ? `alive, lease ${instance.ttl}s left` : "lease expired"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
