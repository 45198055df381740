import { expect, test } from '@playwright/test';
import { CLIENT, apiAs, atPhoneWidth, signIn } from './support';

type Texted = { to: string; text: string; received_at: string };

test('a client confirms a phone number for text alerts with the code the SMS gateway received; a wrong code is refused', async ({ page }) => {
  const client = await apiAs(CLIENT);
  // A number of this run's own (E.164: + and up to 15 digits).
  const number = `+4915${String(Date.now()).slice(-9)}`;
  await signIn(page, CLIENT, /\/client$/);
  await page.getByTestId('nav-settings').first().click();
  await page.getByTestId('phone-number').fill(number);
  await page.getByTestId('phone-send').click();
  await expect(page.getByTestId('phone-current')).toHaveAttribute('data-verified', 'false');

  // The code, as the simulated gateway (served beside the API) received it.
  let code = '';
  await expect
    .poll(async () => {
      const texts = (await (await page.request.get('/simulator/sms/messages')).json()) as Texted[];
      code = /\b(\d{6})\b/.exec(texts.filter((t) => t.to === number).at(-1)?.text ?? '')?.[1] ?? '';
      return code;
    })
    .toMatch(/^\d{6}$/);

  // Any other six digits are wrong: refused with the API's problem, still unverified.
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  await page.getByTestId('phone-code').fill(wrong);
  await page.getByTestId('phone-verify').click();
  await expect(page.getByTestId('problem')).toBeVisible();
  await expect(page.getByTestId('phone-current')).toHaveAttribute('data-verified', 'false');

  await page.getByTestId('phone-code').fill(code);
  await page.getByTestId('phone-verify').click();
  await expect(page.getByTestId('phone-current')).toHaveAttribute('data-verified', 'true');
  // The earlier refusal is gone with the action that succeeded.
  await expect(page.getByTestId('problem')).toHaveCount(0);
  const phone = await client.api.get('/api/notifications/phone');
  expect(await phone.json()).toEqual({ number, verified: true });
  await atPhoneWidth(page, 'settings');

  // Removing it: the API has no number any more.
  await page.getByTestId('phone-remove').click();
  await expect(page.getByTestId('phone-current')).toHaveCount(0);
  expect((await client.api.get('/api/notifications/phone')).status()).toBe(404);
  await client.api.dispose();
});
