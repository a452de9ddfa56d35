/**
 * etcd 3.4's gateway answers every path under /v3beta as under /v3. The app
 * reads a /v3beta path as the /v3 one before routing (its `rewriteUrl`), so
 * each gateway route is registered once: registering every route twice
 * (with its WebSocket and HEAD twins) was about a third of a member's routes,
 * paid at each start.
 */
const BETA_PREFIX = "/v3beta/";

export function withoutBetaPrefix(url: string): string {
  return url.startsWith(BETA_PREFIX) ? `/v3/${url.slice(BETA_PREFIX.length)}` : url;
}
