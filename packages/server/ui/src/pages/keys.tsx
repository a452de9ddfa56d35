/**
 * The keyspace: a tree of `/`-separated keys, paged, and one key at a time
 * with its value, metadata and history. Every change is a compare-and-set on
 * the mod revision the page showed: if the key changed meanwhile, the page
 * says so and keeps the draft instead of overwriting the other change.
 */
import { useEffect, useState } from "preact/hooks";
import { putIfModRevision, range } from "../api.js";
import { keyLabel, utf8 } from "../bytes.js";
import { listFolder, type Entry, type TreePage } from "../keys/tree.js";
import { messageOf } from "../poll.js";
import { ErrorLine } from "../view.js";
import { KeyDetail } from "./key-detail.js";

const PAGE_SIZE = 50;
const ROOT = new Uint8Array();

export function KeysPage() {
  const [folder, setFolder] = useState<Uint8Array>(ROOT);
  const [selected, setSelected] = useState<Uint8Array | undefined>(undefined);
  const [listingVersion, setListingVersion] = useState(0);
  const refreshListing = (): void => setListingVersion((version) => version + 1);
  return (
    <section class="keys">
      <h1>Keys</h1>
      <div class="split">
        <div class="tree">
          <Breadcrumbs folder={folder} onOpen={setFolder} />
          <FolderListing key={`${keyLabel(folder)}#${listingVersion}`} folder={folder} onOpenFolder={setFolder} onSelect={setSelected} />
          <NewKeyForm
            key={keyLabel(folder)}
            folder={folder}
            onCreated={(key) => {
              setSelected(key);
              refreshListing();
            }}
          />
        </div>
        <div class="detail">
          {selected ? (
            <KeyDetail
              key={keyLabel(selected)}
              keyBytes={selected}
              onDeleted={() => {
                setSelected(undefined);
                refreshListing();
              }}
            />
          ) : (
            <p class="muted">Pick a key to see its value, or create one.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function Breadcrumbs({ folder, onOpen }: { folder: Uint8Array; onOpen: (folder: Uint8Array) => void }) {
  const ends = [0, ...Array.from(folder).flatMap((byte, i) => (byte === 0x2f ? [i + 1] : []))];
  return (
    <nav class="breadcrumbs">
      {ends.map((end) => (
        <button type="button" class="link" onClick={() => onOpen(folder.slice(0, end))}>
          {end === 0 ? "(all keys)" : keyLabel(folder.slice(0, end))}
        </button>
      ))}
    </nav>
  );
}

function FolderListing({
  folder,
  onOpenFolder,
  onSelect,
}: {
  folder: Uint8Array;
  onOpenFolder: (prefix: Uint8Array) => void;
  onSelect: (key: Uint8Array) => void;
}) {
  const [pages, setPages] = useState<TreePage[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadFrom = (start?: Uint8Array): void => {
    listFolder(range, folder, PAGE_SIZE, start).then(
      (page) => setPages((loaded) => [...loaded, page]),
      (failure: unknown) => setError(messageOf(failure)),
    );
  };
  useEffect(() => loadFrom(), []);
  const next = pages[pages.length - 1]?.next;
  const entries = pages.flatMap((page) => page.entries);
  return (
    <>
      <ErrorLine error={error} />
      <ul class="entries">
        {entries.map((entry) => (
          <EntryItem
            key={keyLabel(entry.kind === "folder" ? entry.prefix : entry.kv.key)}
            entry={entry}
            folder={folder}
            onOpenFolder={onOpenFolder}
            onSelect={onSelect}
          />
        ))}
        {pages.length > 0 && entries.length === 0 && <li class="muted">no keys here</li>}
      </ul>
      {next && (
        <button type="button" onClick={() => loadFrom(next)}>
          More keys
        </button>
      )}
    </>
  );
}

function EntryItem({
  entry,
  folder,
  onOpenFolder,
  onSelect,
}: {
  entry: Entry;
  folder: Uint8Array;
  onOpenFolder: (prefix: Uint8Array) => void;
  onSelect: (key: Uint8Array) => void;
}) {
  // A key may equal its folder's prefix ("a/" in the folder "a/").
  const shortName = (bytes: Uint8Array): string =>
    bytes.length === folder.length ? `${keyLabel(bytes)} (the folder's own key)` : keyLabel(bytes.slice(folder.length));
  if (entry.kind === "folder") {
    return (
      <li class="folder" data-folder={keyLabel(entry.prefix)}>
        <button type="button" class="link" onClick={() => onOpenFolder(entry.prefix)}>
          ▸ {shortName(entry.prefix)}
        </button>
      </li>
    );
  }
  return (
    <li class="key" data-key={keyLabel(entry.kv.key)}>
      <button type="button" class="link" onClick={() => onSelect(entry.kv.key)}>
        {shortName(entry.kv.key)}
      </button>
    </li>
  );
}

function NewKeyForm({ folder, onCreated }: { folder: Uint8Array; onCreated: (key: Uint8Array) => void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const create = async (form: HTMLFormElement): Promise<void> => {
    const fields = new FormData(form);
    const key = utf8(String(fields.get("new-key") ?? ""));
    const value = utf8(String(fields.get("new-value") ?? ""));
    if (key.length === 0) return setError("a key cannot be empty");
    try {
      // Mod revision 0: only if the key does not exist yet.
      const created = (await putIfModRevision(key, value, 0)).ok;
      if (!created) return setError(`${keyLabel(key)} already exists: open it to edit it`);
      setError(undefined);
      form.reset();
      onCreated(key);
    } catch (failure) {
      setError(messageOf(failure));
    }
  };
  return (
    <form
      class="new-key"
      onSubmit={(event) => {
        event.preventDefault();
        void create(event.currentTarget);
      }}
    >
      <h2>New key</h2>
      <input name="new-key" placeholder="key" defaultValue={keyLabel(folder)} required />
      <textarea name="new-value" placeholder="value" rows={3} />
      <button type="submit">Create</button>
      <ErrorLine error={error} />
    </form>
  );
}
