/** Small, self-contained HTML pages. No scripts, inline CSS only (allowed by a hash-free 'unsafe-inline' style-src). */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageOptions {
  title: string;
  /** trusted HTML body (callers escape any user data with escapeHtml) */
  bodyHtml: string;
  requestId?: string;
  /** a wider card, for pages with tables (the user page) */
  wide?: boolean;
}

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:34rem;margin:12vh auto;padding:2rem 2.25rem;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin:0 0 .75rem}
p{margin:.5rem 0}
.muted{color:#6b7385;font-size:.85rem;margin-top:1.5rem}
button,.button{display:inline-block;font:inherit;padding:.5rem 1.1rem;border-radius:8px;border:0;background:#2f5bea;color:#fff;text-decoration:none;cursor:pointer}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e4e6eb}
code{background:#eef0f4;padding:.05rem .3rem;border-radius:4px}
main.wide{max-width:56rem;margin-top:5vh}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.tag{display:inline-block;font-size:.75rem;padding:0 .45rem;border-radius:6px;background:#e3ebff;color:#2f5bea;margin-left:.35rem}
form.inline{display:inline;margin:0 .5rem .5rem 0}
button.small{padding:.2rem .7rem;font-size:.85rem}
button.secondary{background:#e4e6eb;color:#1d2330}
button.danger{background:#c6283a}
ul.apps{padding-left:1.1rem}
.actions{margin-top:1.25rem}
`;

export function renderPage(options: PageOptions): string {
  const footer = options.requestId
    ? `<p class="muted">Request ID: <code>${escapeHtml(options.requestId)}</code></p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(options.title)} · Portcullis</title><style>${STYLE}</style></head>
<body><main${options.wide ? ' class="wide"' : ''}><h1>${escapeHtml(options.title)}</h1>${options.bodyHtml}${footer}</main></body></html>
`;
}
