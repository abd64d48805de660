// Credentials never reach an error message or a log line: every URL shown to a user goes through redactUrl,
// every foreign error text (pg, fetch, kafkajs) that may quote a URL through redactText.

const MASK = "***";

// Query parameters that carry secrets in connection URLs (libpq's password, sslpassword; tokens, API keys).
const SECRET_PARAMS =
  /([?&;](?:password|passwd|pwd|sslpassword|secret|token|api[_-]?key|access[_-]?token)=)[^&;#\s]*/gi;

/**
 * A URL with its password (and secret query parameters) replaced by `***`; the user name stays, unless there
 * is no password, in which case the whole userinfo may be a token and is masked. Works on text that does not
 * parse as a URL: a password holding `/`, `#`, `?`, `+` or `@` unencoded makes `new URL` fail or split it in the
 * wrong place, so the userinfo is taken as everything between `scheme://` and the LAST `@`.
 */
export function redactUrl(url: string): string {
  return redactText(url);
}

/** Every `scheme://user:password@…` in free text, with its password masked (see redactUrl). */
export function redactText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)(\S*)@/gi,
    (_m, scheme: string, userinfo: string) => `${scheme}${maskUserinfo(userinfo)}@`,
  );
  out = out.replace(SECRET_PARAMS, `$1${MASK}`);
  for (const secret of secrets) {
    if (!secret || secret.length < 3) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join(MASK);
  }
  return out;
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(":");
  if (colon < 0) return MASK;
  return `${userinfo.slice(0, colon)}:${MASK}`;
}
