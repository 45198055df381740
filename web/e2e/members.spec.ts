import { expect, test } from '@playwright/test';
import { GYM, apiAs, atPhoneWidth, json, signIn } from './support';

type Invitation = { id: string; email: string; role: string; expires_at: string; accepted_at?: string | null };

test("a gym owner sends an invitation from the form and sees every invitation the API lists, with where each stands", async ({ page }) => {
  const owner = await apiAs(GYM);
  const me = await json<{ gym_id: string }>(owner.api, '/api/users/me');
  await signIn(page, GYM, /\/gym$/);
  await page.getByTestId('nav-members').first().click();
  await expect(page.getByTestId('invitations-table')).toBeVisible();

  const email = `new.coach.${Date.now()}@example.com`;
  await page.getByTestId('invite-email').fill(email);
  await page.getByLabel('As').selectOption('trainer');
  await page.getByTestId('invite-submit').click();
  await expect(page.getByTestId('invite-sent')).toContainText(email);

  // The API's list, and each one's status worked out here: accepted, else open until it expires.
  const listed = await json<Invitation[]>(owner.api, `/api/gyms/${me.gym_id}/invitations`);
  expect(listed[0]?.email).toBe(email);
  expect(listed.some((i) => i.accepted_at)).toBe(true); // the demo clients joined by invitation
  const rows = page.getByTestId('invitation-row');
  await expect(rows).toHaveCount(listed.length);
  const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-id'), tr.getAttribute('data-status'), tr.textContent]));
  expect(shown.map(([id, status]) => [id, status])).toEqual(
    listed.map((i) => [i.id, i.accepted_at ? 'accepted' : Date.parse(i.expires_at) > Date.now() ? 'open' : 'expired']),
  );
  expect(shown[0]?.[2]).toContain(email);
  expect(shown[0]?.[2]).toContain('trainer');
  await atPhoneWidth(page, 'gym-members');
  await owner.api.dispose();
});
