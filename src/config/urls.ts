// URLs from configuration checked before use, so that `changecast check` reports them and no library quietly
// falls back to a default (pg connects to localhost when a URL names no host). Messages never show a password.
import { redactUrl, splitUrlCredentials } from "./redact.js";

/** Why a `state:` URL cannot be used, or null (`sqlite:<file>`, `sqlite::memory:`, `postgres://…`). */
export function stateUrlProblem(url: string): string | null {
  const shown = redactUrl(url);
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return (
        `"${shown}" is not a valid PostgreSQL URL; percent-encode special characters in the user ` +
        `and password (/ → %2F, # → %23, @ → %40, ? → %3F, : → %3A, % → %25)`
      );
    }
    if (!parsed.hostname && !parsed.searchParams.get("host")) {
      return (
        `"${shown}" names no host; write postgres://user:password@host:5432/database ` +
        `(or postgres:///database?host=/path/to/socket-directory)`
      );
    }
    return null;
  }
  if (url.startsWith("sqlite:")) {
    return url === "sqlite:" ? `"sqlite:" names no file (use sqlite:<file>)` : null;
  }
  return `unsupported state store URL "${shown}" (use sqlite:<file> or postgres://…)`;
}

/** Why a Schema Registry URL cannot be used, or null. */
export function registryUrlProblem(url: string): string | null {
  try {
    splitUrlCredentials(url, "registry.url");
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
