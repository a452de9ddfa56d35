/**
 * One key: its value (text, JSON or hex), version, revisions and lease; an
 * editor and a delete that both compare-and-set on the mod revision shown;
 * and its earlier versions, read at earlier revisions until compaction.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, deleteIfModRevision, get, leaseHex, leaseTtl, putIfModRevision, type Guarded, type Kv } from "../api.js";
import { asText, keyLabel, utf8 } from "../bytes.js";
import { messageOf } from "../poll.js";
import { ErrorLine, naturalView, renderValue, TableHead, type ValueView } from "../view.js";

type Mode = { readonly kind: "view" } | { readonly kind: "edit"; readonly draft: string } | { readonly kind: "confirm-delete" };

/** Why a compare-and-set did not apply: the key as it is now, against the revision the page had. */
interface Conflict {
  readonly expected: number;
  readonly current: Kv | undefined;
}

export function KeyDetail({ keyBytes, onDeleted }: { keyBytes: Uint8Array; onDeleted: () => void }) {
  const [kv, setKv] = useState<Kv | undefined | "missing">(undefined);
  const [mode, setMode] = useState<Mode>({ kind: "view" });
  const [conflict, setConflict] = useState<Conflict | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const reload = (): void => {
    get(keyBytes).then(
      (found) => setKv(found ?? "missing"),
      (failure: unknown) => setError(messageOf(failure)),
    );
  };
  useEffect(reload, []);

  if (kv === undefined) return <ErrorLine error={error} />;
  if (kv === "missing") return <p class="muted">{keyLabel(keyBytes)} does not exist (any more).</p>;

  /** Runs a compare-and-set; a refusal becomes a visible conflict and leaves the draft as it is. */
  const guarded = async (write: () => Promise<Guarded>, done: () => void): Promise<void> => {
    try {
      const outcome = await write();
      setError(undefined);
      if (!outcome.ok) return setConflict({ expected: kv.modRevision, current: outcome.current });
      setConflict(undefined);
      done();
    } catch (failure) {
      setError(messageOf(failure));
    }
  };
  const save = (draft: string): Promise<void> =>
    guarded(
      () => putIfModRevision(kv.key, utf8(draft), kv.modRevision, kv.lease),
      () => {
        setMode({ kind: "view" });
        reload();
      },
    );
  const remove = (): Promise<void> => guarded(() => deleteIfModRevision(kv.key, kv.modRevision), onDeleted);
  const takeCurrent = (): void => {
    setConflict(undefined);
    setMode({ kind: "view" });
    reload();
  };

  return (
    <article class="key-detail" data-testid="key-detail">
      <h2 class="mono">{keyLabel(kv.key)}</h2>
      <Metadata kv={kv} />
      {conflict && <ConflictNotice conflict={conflict} onTakeCurrent={takeCurrent} />}
      <ErrorLine error={error} />
      {mode.kind === "edit" ? (
        <Editor draft={mode.draft} onDraft={(draft) => setMode({ kind: "edit", draft })} onSave={save} onCancel={() => setMode({ kind: "view" })} />
      ) : (
        <ValuePanel value={kv.value} />
      )}
      {mode.kind === "view" && (
        <div class="actions">
          <button
            type="button"
            onClick={() => setMode({ kind: "edit", draft: asText(kv.value) ?? "" })}
            disabled={asText(kv.value) === undefined}
            title={asText(kv.value) === undefined ? "binary values are not edited here" : ""}
          >
            Edit
          </button>
          <button type="button" class="danger" onClick={() => setMode({ kind: "confirm-delete" })}>
            Delete
          </button>
        </div>
      )}
      {mode.kind === "confirm-delete" && (
        <div class="confirm" role="alertdialog">
          Delete {keyLabel(kv.key)}?
          <button type="button" class="danger" onClick={() => void remove()}>
            Yes, delete
          </button>
          <button type="button" onClick={() => setMode({ kind: "view" })}>
            Cancel
          </button>
        </div>
      )}
      <History kv={kv} />
    </article>
  );
}

function Metadata({ kv }: { kv: Kv }) {
  const [ttl, setTtl] = useState<string>("");
  useEffect(() => {
    if (kv.lease === "0") return;
    leaseTtl(kv.lease).then(
      ({ ttl: left, grantedTtl }) => setTtl(left < 0 ? "expired" : `${left}s of ${grantedTtl}s left`),
      (failure: unknown) => setTtl(messageOf(failure)),
    );
  }, [kv.lease]);
  return (
    <dl class="metadata">
      <dt>Version</dt>
      <dd data-field="version">{kv.version}</dd>
      <dt>Create revision</dt>
      <dd data-field="create-revision">{kv.createRevision}</dd>
      <dt>Mod revision</dt>
      <dd data-field="mod-revision">{kv.modRevision}</dd>
      <dt>Lease</dt>
      <dd data-field="lease">{kv.lease === "0" ? "none" : `${leaseHex(kv.lease)} (${ttl})`}</dd>
    </dl>
  );
}

function ValuePanel({ value }: { value: Uint8Array }) {
  const [view, setView] = useState<ValueView>(naturalView(value));
  const isText = asText(value) !== undefined;
  return (
    <div class="value">
      <div class="views">
        {(["text", "json", "hex"] as const).map((option) => (
          <label>
            <input type="radio" name="value-view" checked={view === option} disabled={option !== "hex" && !isText} onChange={() => setView(option)} />
            {option}
          </label>
        ))}
      </div>
      <pre data-testid="value">{renderValue(value, view)}</pre>
    </div>
  );
}

function Editor({
  draft,
  onDraft,
  onSave,
  onCancel,
}: {
  draft: string;
  onDraft: (draft: string) => void;
  onSave: (draft: string) => Promise<void>;
  onCancel: () => void;
}) {
  return (
    <form
      class="editor"
      onSubmit={(event) => {
        event.preventDefault();
        void onSave(draft);
      }}
    >
      <textarea name="value" rows={8} value={draft} onInput={(event) => onDraft(event.currentTarget.value)} />
      <div class="actions">
        <button type="submit">Save</button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ConflictNotice({ conflict: { expected, current }, onTakeCurrent }: { conflict: Conflict; onTakeCurrent: () => void }) {
  const now = current ? `it is now at mod revision ${current.modRevision}` : "it has been deleted";
  return (
    <div class="conflict" role="alert">
      <strong>Conflict:</strong> the key changed after revision {expected} ({now}). Nothing was written.
      {current && <pre>{renderValue(current.value, naturalView(current.value))}</pre>}
      <button type="button" onClick={onTakeCurrent}>
        Show the current value
      </button>
    </div>
  );
}

const HISTORY_LIMIT = 20;

/** The key's earlier versions in its current life, newest first, each read at the revision before the next. */
async function versionsOf(kv: Kv): Promise<{ versions: Kv[]; end: string }> {
  const versions = [kv];
  for (let last = kv; last.version > 1; ) {
    if (versions.length === HISTORY_LIMIT) return { versions, end: `only the last ${HISTORY_LIMIT} versions are shown` };
    try {
      const earlier = await get(kv.key, last.modRevision - 1);
      if (!earlier) break;
      versions.push(earlier);
      last = earlier;
    } catch (failure) {
      if (failure instanceof ApiError && /compacted/.test(failure.message)) return { versions, end: "earlier versions were compacted" };
      throw failure;
    }
  }
  return { versions, end: "" };
}

function History({ kv }: { kv: Kv }) {
  const [history, setHistory] = useState<{ versions: Kv[]; end: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const show = (): void => {
    versionsOf(kv).then(setHistory, (failure: unknown) => setError(messageOf(failure)));
  };
  useEffect(() => setHistory(undefined), [kv.modRevision]);
  return (
    <div class="history">
      <h3>History</h3>
      <ErrorLine error={error} />
      {history ? (
        <>
          <table>
            <TableHead columns={["Mod revision", "Version", "Value"]} />
            <tbody>
              {history.versions.map((version) => (
                <tr data-revision={version.modRevision}>
                  <td>{version.modRevision}</td>
                  <td>{version.version}</td>
                  <td class="mono">{renderValue(version.value, naturalView(version.value)).slice(0, 120)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {history.end && <p class="muted">{history.end}</p>}
        </>
      ) : (
        <button type="button" onClick={show}>
          Show versions
        </button>
      )}
    </div>
  );
}
