/**
 * The app's side of `public/boot.js`, which starts the first reads of a page load before
 * the app's JavaScript has arrived. Here:
 * - `takeBootAnswer` hands the app such a read's answer instead of fetching again: once,
 *   and only in the first seconds after the load;
 * - `rememberBootRead` records the GETs a screen makes in its first seconds after a load
 *   or a sign-in, per address, for boot.js to start next time;
 * - `forgetBootReads` drops them at sign-out.
 */

/** The localStorage key prefix boot.js reads (`fitsync-boot-reads:` + the path). */
const BOOT_READS = 'fitsync-boot-reads:';
/** boot.js always starts this read. */
const ME = '/api/users/me';
const MAX_READS = 12;
/** How long an early answer may wait for the app to ask for it. */
const FRESH_MS = 10_000;
/** How long after a load (or a sign-in) a screen's reads are recorded. */
const RECORD_MS = 5_000;

interface Boot {
  at: number;
  started: Record<string, Promise<Response> | undefined>;
}

declare global {
  interface Window {
    __fitsyncBoot?: Boot;
  }
}

/** An API address as boot.js writes it: path and query, on this origin. */
function local(url: string): string | null {
  const u = new URL(url, window.location.origin);
  if (u.origin !== window.location.origin || !u.pathname.startsWith('/api/')) return null;
  return u.pathname + u.search;
}

/** The localStorage key of the screen `/` opens (the role's home), for boot.js. */
const BOOT_HOME = 'fitsync-boot-home';

/** The answer boot.js started for this GET, if there is one and it is fresh. */
export function takeBootAnswer(url: string): Promise<Response> | undefined {
  const boot = typeof window === 'undefined' ? undefined : window.__fitsyncBoot;
  const key = boot && local(url);
  if (!boot || !key) return undefined;
  const answer = boot.started[key];
  delete boot.started[key];
  return answer && Date.now() - boot.at <= FRESH_MS ? answer : undefined;
}

/** Reads are recorded for the address the page was loaded at (or the role's home): the
 * address boot.js looks them up by, whatever screen the reads came from. */
function startRecording(path: string | null) {
  // From `/`, the sign-in page or a sign-in, the app goes to the role's home: its reads
  // are recorded under that home's address, which boot.js also uses for `/`.
  const home = path === null || path === '/' || path === '/signin';
  return { since: Date.now(), path: home ? null : path, home, reads: [] as string[] };
}
let recording = startRecording(typeof window === 'undefined' ? null : window.location.pathname);

/** Drops the answers boot.js started: they were asked as whoever was signed in then. */
export function dropBootAnswers() {
  if (typeof window !== 'undefined') delete window.__fitsyncBoot;
}

/** After a sign-in: records reads from now on, for the first screen that makes them; no
 * answer started for the page's earlier session is handed out. */
export function recordBootReads() {
  dropBootAnswers();
  recording = startRecording(null);
}

/** A GET that succeeded: one of the screen's first reads, if it is early enough. */
export function rememberBootRead(url: string) {
  const key = local(url);
  if (!key || key === ME || key.startsWith('/api/auth/')) return;
  if (Date.now() - recording.since > RECORD_MS) return;
  const path = (recording.path ??= window.location.pathname);
  if (recording.reads.includes(key) || recording.reads.length >= MAX_READS) return;
  recording.reads.push(key);
  try {
    localStorage.setItem(BOOT_READS + path, JSON.stringify(recording.reads));
    if (recording.home) localStorage.setItem(BOOT_HOME, path);
  } catch {
    // Storage full or refused: the next load just starts fewer reads early.
  }
}

/** At sign-out: the next user of this browser starts nobody's reads, and gets no answer
 * started for this one. */
export function forgetBootReads() {
  dropBootAnswers();
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith(BOOT_READS) || key === BOOT_HOME) localStorage.removeItem(key);
  } catch {
    // Nothing stored.
  }
}
