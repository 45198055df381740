/** RFC 9457 problem details, as every FitSync error body is shaped. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string | null;
  errors?: { field?: string; message?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

export class ProblemError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = 'ProblemError';
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && typeof (v as Problem).title === 'string';
}

/** Turns anything thrown or returned as an error into a Problem to show. */
export function toProblem(err: unknown, response?: Response): Problem {
  if (err instanceof ProblemError) return err.problem;
  if (isProblem(err)) {
    return { ...err, type: err.type ?? 'about:blank', status: err.status ?? response?.status ?? 0 };
  }
  if (response) {
    return {
      type: 'about:blank',
      title: response.statusText || `Request failed (${response.status})`,
      status: response.status,
      detail: typeof err === 'string' && err ? err : null,
    };
  }
  if (err instanceof Error) {
    return { type: 'about:blank', title: 'Network error', status: 0, detail: err.message };
  }
  return { type: 'about:blank', title: 'Unexpected error', status: 0, detail: String(err) };
}

/** Reads a failed Response's problem JSON (or makes one from the status). */
export async function problemFromResponse(res: Response): Promise<ProblemError> {
  let body: unknown = null;
  try {
    const text = await res.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return new ProblemError(toProblem(body, res));
}

type Result = { data?: unknown; error?: unknown; response: Response };

/** Awaits an openapi-fetch call and returns its data, or throws a ProblemError. */
export async function unwrap<R extends Result>(call: Promise<R>): Promise<NonNullable<R['data']>> {
  let result: R;
  try {
    result = await call;
  } catch (err) {
    throw new ProblemError(toProblem(err));
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ProblemError(toProblem(result.error, result.response));
  }
  return result.data as NonNullable<R['data']>;
}
