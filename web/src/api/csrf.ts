export const CSRF_COOKIE = 'fitsync_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isUnsafe(method: string): boolean {
  return UNSAFE.has(method.toUpperCase());
}

export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return null;
}

/** The CSRF token, read from its cookie each time so that a reload keeps working. */
export function csrfToken(): string | null {
  return readCookie(CSRF_COOKIE);
}

/** Adds the CSRF header to unsafe requests; GETs go out untouched. */
export function withCsrf(req: Request): Request {
  if (isUnsafe(req.method)) {
    const token = csrfToken();
    if (token) req.headers.set(CSRF_HEADER, token);
  }
  return req;
}
