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

/** A URL split into the URL without its userinfo and the (percent-decoded) credentials it carried. */
export interface UrlWithCredentials {
  /** scheme://host[:port][/path], no userinfo, no trailing slash */
  url: string;
  username: string | undefined;
  password: string | undefined;
}

/**
 * Takes the credentials out of an HTTP(S) URL. The userinfo is everything between `scheme://` and the last `@`,
 * so a password with unencoded `/`, `#`, `?`, `+` or `@` works as well as a percent-encoded one (`+` stays a
 * plus). Throws, without the credentials, when the rest is not a URL. `what` names the URL in the message.
 */
export function splitUrlCredentials(raw: string, what: string): UrlWithCredentials {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0];
  const at = raw.lastIndexOf("@");
  let rest = raw;
  let username: string | undefined;
  let password: string | undefined;
  if (scheme && at > scheme.length) {
    const userinfo = raw.slice(scheme.length, at);
    rest = scheme + raw.slice(at + 1);
    const colon = userinfo.indexOf(":");
    username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1));
  }
  let parsed: URL;
  try {
    parsed = new URL(rest);
  } catch {
    throw new Error(`${what}: "${redactUrl(raw)}" is not a valid URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`${what}: "${redactUrl(raw)}" is not an http:// or https:// URL`);
  }
  return { url: parsed.toString().replace(/\/+$/, ""), username: username || undefined, password };
}

/** Percent-decoding where it is one; a bare `%` (as in a raw password "100%") stays as written. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
