/**
 * Application configuration with live reload: the settings under
 * `config/demo-app/` are loaded into an object at start-up and kept live;
 * each change is applied to the running application without a restart.
 *
 *   node examples/dist/config-reload/main.js            # a scripted demo of three changes
 *   node examples/dist/config-reload/main.js --follow   # wait for your own changes (Ctrl-C to stop)
 */
import { ConfigStore, type ConfigChange } from "@raftkv/client";
import { connect, runMain } from "../shared/cluster.js";

const PREFIX = "config/demo-app/";

/** Settings are JSON values: `"debug"`, `250`, `{"url": …}`. */
type Setting = string | number | boolean | null | { readonly [name: string]: Setting } | readonly Setting[];

/** The part of the application that depends on configuration: rebuilt from the values whenever they change. */
class Application {
  logLevel = "info";
  pollIntervalMs = 1_000;

  configure(values: Readonly<Record<string, Setting>>): void {
    this.logLevel = typeof values.log_level === "string" ? values.log_level : "info";
    this.pollIntervalMs = typeof values.poll_interval_ms === "number" ? values.poll_interval_ms : 1_000;
  }

  describe(): string {
    return `log_level=${this.logLevel} poll_interval_ms=${this.pollIntervalMs}`;
  }
}

runMain(async () => {
  const follow = process.argv.includes("--follow");
  const client = connect();
  if (!follow) {
    // A fresh start for the scripted demo, so that it prints the same lines every time.
    await client.kv.delete(PREFIX, { prefix: true });
    await client.kv.put(`${PREFIX}log_level`, JSON.stringify("info"));
  }

  const config = await ConfigStore.open<Setting>(client, PREFIX, { decode: (raw) => JSON.parse(raw.toString("utf8")) as Setting });
  const app = new Application();
  app.configure(config.values);
  console.log(`loaded ${PREFIX} at revision ${config.revision}: ${app.describe()}`);

  config.on("change", (change: ConfigChange<Setting>) => {
    app.configure(config.values);
    console.log(`reloaded: ${change.name} ${describeChange(change)} -> ${app.describe()}`);
  });
  config.on("invalid", ({ name, error }) => console.log(`ignored ${name}: not JSON (${String(error)})`));

  if (follow) {
    console.log(`following ${PREFIX}; try: curl -X PUT http://127.0.0.1:2379/v1/kv/${PREFIX}log_level -d '"debug"'`);
    await new Promise<void>((resolve) => process.once("SIGINT", resolve));
  } else {
    // What an operator would do from anywhere (curl, raftkv put, another service): here, through the same client.
    await config.set("log_level", JSON.stringify("debug"));
    await config.set("poll_interval_ms", JSON.stringify(250));
    await config.delete("log_level");
  }
  config.close();
  await client.close();
  console.log("done");
});

function describeChange({ value, previous }: ConfigChange<Setting>): string {
  if (value === undefined) return `deleted (was ${JSON.stringify(previous)})`;
  return previous === undefined ? `= ${JSON.stringify(value)}` : `= ${JSON.stringify(value)} (was ${JSON.stringify(previous)})`;
}
