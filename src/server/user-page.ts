import { escapeHtml, renderPage } from '../http/pages.js';
import type { Session } from '../session/types.js';
import { relativeTime } from './relative-time.js';
import type { UserApp } from './user-apps.js';

/** One of the user's sessions as the page and the JSON API show it: public handle, no tokens. */
export interface SessionView {
  id: string;
  current: boolean;
  /** "Chrome 130 on macOS", or null when the user agent says nothing readable */
  device: string | null;
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export function sessionView(session: Session, currentHandle: string, device: string | undefined): SessionView {
  return {
    id: session.handle,
    current: session.handle === currentHandle,
    device: device ?? null,
    user_agent: session.userAgent ?? null,
    ip: session.ip ?? null,
    created_at: new Date(session.createdAt).toISOString(),
    last_seen_at: new Date(session.lastSeenAt).toISOString(),
    expires_at: new Date(session.expiresAt).toISOString(),
  };
}

/** `<time>` with the relative text, the exact instant for machines and in the tooltip. */
function timeHtml(iso: string, now: number): string {
  const at = Date.parse(iso);
  const absolute = new Date(at).toUTCString();
  return `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(absolute)}">${escapeHtml(relativeTime(at, now))}</time>`;
}

function sessionRow(view: SessionView, now: number): string {
  // every value here comes from the client (user agent) or the store: all of it is escaped
  const device = escapeHtml(view.device ?? 'Unknown browser');
  const raw = view.user_agent ? ` title="${escapeHtml(view.user_agent)}"` : '';
  const mark = view.current ? '<span class="tag">this device</span>' : '';
  const action = view.current
    ? ''
    : `<form class="inline" method="post" action="/.portcullis/sessions/${encodeURIComponent(view.id)}/end"><button class="small secondary" type="submit">End</button></form>`;
  return `<tr data-session="${escapeHtml(view.id)}"${view.current ? ' data-current="true"' : ''}>
<td><span${raw}>${device}</span>${mark}</td><td>${escapeHtml(view.ip ?? '—')}</td>
<td>${timeHtml(view.created_at, now)}</td><td>${timeHtml(view.last_seen_at, now)}</td><td>${action}</td></tr>`;
}

function appsHtml(apps: readonly UserApp[]): string {
  if (apps.length === 0) return '<p>No applications are open to you.</p>';
  const items = apps.map((app) => {
    const name = escapeHtml(app.name);
    const label = app.url ? `<a href="${escapeHtml(app.url)}">${name}</a>` : name;
    return `<li>${label}${app.public ? '<span class="tag">public</span>' : ''}</li>`;
  });
  return `<ul class="apps">${items.join('')}</ul>`;
}

/** The user page: who I am, the apps I may open, my devices, and signing out of them. No scripts. */
export function renderUserPage(input: {
  session: Session;
  views: readonly SessionView[];
  apps: readonly UserApp[];
  now: number;
  requestId: string;
}): string {
  const { session, views, now } = input;
  const user = session.user;
  const who = user.name ? `${escapeHtml(user.name)} (${escapeHtml(user.email ?? user.sub)})` : escapeHtml(user.email ?? user.sub);
  const others = views.filter((v) => !v.current).length;
  const rows = views.map((v) => sessionRow(v, now)).join('');
  const endOthers = others
    ? `<form class="inline" method="post" action="/.portcullis/sessions/end-others"><button class="secondary" type="submit">Sign out of all other devices</button></form>`
    : '';
  const body = `<p>Signed in as <b>${who}</b> · <code>${escapeHtml(user.sub)}</code></p>
<p>Groups: ${escapeHtml(user.groups.join(', ') || 'none')}</p>
<h2>Your applications</h2>${appsHtml(input.apps)}
<h2>Your devices</h2>
<table><thead><tr><th>Device</th><th>IP address</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead><tbody>${rows}</tbody></table>
<div class="actions"><form class="inline" method="post" action="/.portcullis/logout"><button type="submit">Sign out of this device</button></form>${endOthers}<form class="inline" method="post" action="/.portcullis/sessions/end-all"><button class="danger" type="submit">Sign out everywhere</button></form></div>`;
  return renderPage({ title: 'Your account', bodyHtml: body, requestId: input.requestId, wide: true });
}
