/**
 * The dashboard's shell: a navigation bar and one page at a time, chosen by
 * the URL's hash (#/keys) so that a page can be linked to and reloaded.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ClusterPage } from "./pages/cluster.js";
import { KeysPage } from "./pages/keys.js";
import { MetricsPage } from "./pages/metrics.js";
import { RecipesPage } from "./pages/recipes.js";
import { WatchPage } from "./pages/watch.js";
import { session } from "./api.js";

const PAGES = {
  cluster: { title: "Cluster", Page: ClusterPage },
  keys: { title: "Keys", Page: KeysPage },
  watch: { title: "Watch", Page: WatchPage },
  recipes: { title: "Locks & services", Page: RecipesPage },
  metrics: { title: "Metrics", Page: MetricsPage },
} as const;

type PageName = keyof typeof PAGES;

function pageInHash(): PageName {
  const name = location.hash.replace(/^#\/?/, "");
  return name in PAGES ? (name as PageName) : "cluster";
}

function App() {
  const [page, setPage] = useState<PageName>(pageInHash);
  useEffect(() => {
    const follow = (): void => setPage(pageInHash());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  const { Page } = PAGES[page];
  return (
    <>
      <header>
        <strong class="brand">raftkv</strong>
        <nav>
          {Object.entries(PAGES).map(([name, { title }]) => (
            <a href={`#/${name}`} class={name === page ? "active" : ""} data-page={name}>
              {title}
            </a>
          ))}
        </nav>
        <span class="origin">{location.host}</span>
        <Login />
      </header>
      <main>
        <Page />
      </main>
    </>
  );
}

/** Logs this tab in (etcd's authenticate) when the member has auth on; shows who is logged in. */
function Login() {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  if (session.user !== undefined) {
    return (
      <span class="login">
        {session.user}{" "}
        <button
          type="button"
          onClick={() => {
            session.logOut();
            location.reload();
          }}
        >
          Log out
        </button>
      </span>
    );
  }
  if (!open)
    return (
      <button type="button" class="login" onClick={() => setOpen(true)}>
        Log in
      </button>
    );
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    try {
      await session.logIn(String(form.get("user")), String(form.get("password")));
      location.reload();
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <form class="login" onSubmit={submit}>
      <input name="user" placeholder="user" autocomplete="username" />
      <input name="password" type="password" placeholder="password" autocomplete="current-password" />
      <button type="submit">Log in</button>
      {error && <span class="error">{error}</span>}
    </form>
  );
}

render(<App />, document.getElementById("app")!);
