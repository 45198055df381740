import { CSRF_HEADER, csrfToken, withCsrf } from './csrf';
import { problemFromResponse } from './problem';
import { dropBootAnswers, forgetBootReads, recordBootReads, rememberBootRead, takeBootAnswer } from './boot';

export type Role = 'client' | 'trainer' | 'gym' | 'admin';

/** The body of POST /api/auth/session and /api/auth/session/refresh. */
export interface SessionInfo {
  user_id: string;
  role: Role;
  gym_id: string | null;
  csrf_token: string;
  expires_in: number;
}

type Listener = (s: SessionInfo | null) => void;
const listeners = new Set<Listener>();
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<SessionInfo | null> | null = null;

/** Tabs share the cookies, so they share the session: a refresh cookie is single use, and
 * two tabs spending it at once would end the session (reuse detection). Refreshes take
 * this Web Lock, so tabs (and a browser restoring several at once) rotate one after the
 * other, each with the newest cookie; and each tab tells the others what it did. */
const REFRESH_LOCK = 'fitsync-session-refresh';
const RETRY_MS = 15_000;
/** When the access cookie runs out (ms since the epoch), so that a reload need not
 * refresh the session before its first read (`resumeSession`). */
const EXPIRES_KEY = 'fitsync-session-expires';
const channel: BroadcastChannel | null =
  typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('fitsync-session');
channel?.addEventListener('message', (e: MessageEvent<SessionInfo | null>) => adopt(e.data));

function adopt(s: SessionInfo | null) {
  if (s) schedule(Date.now() + s.expires_in * 1000);
  else {
    clear();
    // Answers boot.js fetched with the session that just ended are nobody's now.
    dropBootAnswers();
  }
  emit(s);
}

/** This tab's new session (or its end), and the other tabs'. */
function publish(s: SessionInfo | null) {
  try {
    if (s) localStorage.setItem(EXPIRES_KEY, String(Date.now() + s.expires_in * 1000));
    else localStorage.removeItem(EXPIRES_KEY);
  } catch {
    // No storage: reloads refresh first.
  }
  // However the session ended (sign-out, sign-out everywhere, a refused refresh), the
  // next user of this browser starts none of this one's reads.
  if (!s) forgetBootReads();
  adopt(s);
  channel?.postMessage(s);
}

/**
 * After a reload: when the access cookie has more than a minute left, schedules its
 * refresh and says so; otherwise (or when nobody knows) the caller refreshes first.
 */
export function resumeSession(): boolean {
  let expiresAt = 0;
  try {
    expiresAt = Number(localStorage.getItem(EXPIRES_KEY) ?? 0);
  } catch {
    return false;
  }
  if (!(expiresAt - Date.now() > 60_000)) return false;
  schedule(expiresAt);
  return true;
}

function exclusively<T>(run: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  return locks ? (locks.request(REFRESH_LOCK, run) as Promise<T>) : run();
}

export function onSessionChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(s: SessionInfo | null) {
  for (const l of listeners) l(s);
}

function schedule(expiresAt: number) {
  clearTimeout(refreshTimer);
  // A minute before the access cookie expires (never sooner than 5 s).
  const ms = Math.max(5_000, expiresAt - 60_000 - Date.now());
  refreshTimer = setTimeout(() => {
    // A refresh that failed (network, 5xx) is tried again before the cookie runs out;
    // a refused one (401, 403) ends the session instead.
    void refreshSession().catch(() => {
      refreshTimer = setTimeout(() => void refreshSession().catch(() => undefined), RETRY_MS);
    });
  }, ms);
}

function clear() {
  clearTimeout(refreshTimer);
  refreshTimer = undefined;
}

export async function signIn(email: string, password: string): Promise<SessionInfo> {
  const res = await fetch('/api/auth/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw await problemFromResponse(res);
  const s = (await res.json()) as SessionInfo;
  recordBootReads();
  publish(s);
  return s;
}

/** Rotates the session cookies; null when the session is gone (single flight). */
export function refreshSession(): Promise<SessionInfo | null> {
  if (inflight) return inflight;
  inflight = exclusively(async () => {
    // Read under the lock: another tab may have just rotated the cookies.
    const headers: Record<string, string> = { Accept: 'application/json' };
    const t = csrfToken();
    if (t) headers[CSRF_HEADER] = t;
    const res = await fetch('/api/auth/session/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers,
    });
    if (res.status === 401 || res.status === 403) {
      // Read the refusal to its end: an unread body keeps the request open.
      await res.text().catch(() => '');
      publish(null);
      return null;
    }
    if (!res.ok) throw await problemFromResponse(res);
    const s = (await res.json()) as SessionInfo;
    publish(s);
    return s;
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

async function postWithCsrf(url: string): Promise<void> {
  const res = await fetch(withCsrf(new Request(absolute(url), { method: 'POST', credentials: 'same-origin' })));
  if (!res.ok && res.status !== 401) throw await problemFromResponse(res);
}

export async function signOut(): Promise<void> {
  forgetBootReads();
  try {
    await postWithCsrf('/api/auth/session/logout');
  } finally {
    publish(null);
  }
}

export async function signOutEverywhere(): Promise<void> {
  forgetBootReads();
  try {
    await postWithCsrf('/api/auth/logout-all');
    await postWithCsrf('/api/auth/session/logout').catch(() => undefined);
  } finally {
    publish(null);
  }
}

export function absolute(url: string): string {
  if (/^https?:/.test(url)) return url;
  const origin = typeof window !== 'undefined' ? window.location.origin : 'http://localhost';
  return origin + url;
}

function isSessionPath(url: string): boolean {
  return new URL(url, absolute('/')).pathname.startsWith('/api/auth/session');
}

/**
 * The fetch every API call goes through: same-origin cookies, the CSRF header on
 * unsafe methods, and on a 401 one refresh and one retry (then sign-in).
 */
export async function apiFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const get = input.method === 'GET';
  // A read public/boot.js started before the app was running, if it did.
  const early = get ? takeBootAnswer(input.url) : undefined;
  const res = early ? await early.catch(() => fetch(withCsrf(input))) : await fetch(withCsrf(input));
  if (get && res.ok) rememberBootRead(input.url);
  if (res.status !== 401 || isSessionPath(input.url)) return res;
  const s = await refreshSession().catch(() => null);
  if (!s) return res;
  return fetch(withCsrf(retry));
}
