import createClient from 'openapi-fetch';
import type { paths, components } from './schema';
import { absolute, apiFetch } from './session';

export type Schemas = components['schemas'];

export const api = createClient<paths>({
  baseUrl: absolute(''),
  credentials: 'same-origin',
  fetch: (req: Request) => apiFetch(req),
});

/** A free slot as GET /api/availability/{trainer_id}/slots returns it. */
export type FreeSlot = Schemas['FreeSlot'];
