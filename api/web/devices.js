// Settings → Signed-in devices: every session of the account (browsers, the CLI), named as
// people name them, with when each was last active; sign one out, or this browser.

import { h, guarded } from './dom.js';
import { get, del } from './api.js';

export async function devicesSection(signOut) {
  const list = h('ul.rows', { id: 'sessions' });
  const problem = h('p.form-error', { role: 'alert' });
  const load = async () => {
    const { items } = await get('/api/auth/sessions');
    list.replaceChildren(...items.map((s) => {
      const device = deviceName(s.user_agent);
      const revoke = h('button.secondary', { type: 'button', 'aria-label': s.current ? 'Sign out of this browser' : `Sign out ${device}` },
        s.current ? 'Sign out' : 'Sign out device');
      revoke.addEventListener('click', guarded(problem, async () => {
        if (s.current) return signOut();
        await del(`/api/auth/sessions/${s.id}`);
        await load();
      }));
      // The whole User-Agent on hover, for the curious; the name is what people read.
      return h('li', { dataset: { id: s.id } },
        h('span', { title: s.user_agent ?? '' }, `${device}${s.current ? ' — this browser' : ''}`),
        h('span.muted', {}, [s.ip, s.current ? 'active now' : `last active ${ago(s.last_used_at)}`].filter(Boolean).join(' · ')),
        revoke);
    }));
  };
  await load();
  return h('div.section', {}, h('h2', {}, 'Signed-in devices'), problem, list);
}

/** "Chrome on Linux", "Sluice CLI 0.1.0", "curl": a User-Agent as people name their devices. */
export function deviceName(userAgent) {
  if (!userAgent) return 'Unknown device';
  const cli = userAgent.match(/^sluice-cli\/(\S+)/);
  if (cli) return `Sluice CLI ${cli[1]}`;
  const first = (pairs) => pairs.find(([pattern]) => pattern.test(userAgent))?.[1];
  // Order matters: Edge and Opera also say Chrome, Chrome also says Safari, iPhones say Mac OS X
  // and Android says Linux.
  const browser = first([[/Edg(A|iOS)?\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\/|FxiOS\//, 'Firefox'],
    [/Chrome\/|CriOS\//, 'Chrome'], [/Version\/[\d.]+.*Safari\//, 'Safari']]);
  const system = first([[/iPhone/, 'iPhone'], [/iPad/, 'iPad'], [/Android/, 'Android'], [/CrOS/, 'ChromeOS'],
    [/Windows/, 'Windows'], [/Macintosh|Mac OS X/, 'macOS'], [/Linux/, 'Linux']]);
  if (browser) return system ? `${browser} on ${system}` : browser;
  return userAgent.split(/[\s/]/)[0] || 'Unknown device';
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago", or the date. */
function ago(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  const count = (n, unit) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (seconds < 90) return 'just now';
  if (seconds < 3600) return count(Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return count(Math.round(seconds / 3600), 'hour');
  if (seconds < 30 * 86400) return count(Math.round(seconds / 86400), 'day');
  return `on ${new Date(iso).toLocaleDateString()}`;
}
