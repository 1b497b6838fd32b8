import { CookieJar, siteOf } from './cookie-jar.js';

export { CookieJar } from './cookie-jar.js';

/**
 * A small browser over fetch for integration tests: a cookie jar, manual redirects (every hop is
 * visible), Origin / Sec-Fetch-Site on requests like a browser would send them, HTML form
 * submission, and `login()` through the gateway and the demo IdP's sign-in form.
 */
export interface BrowserResponse {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  setCookies: string[];
  /** absolute Location, when there is one */
  location?: string;
  /** the redirect chain that led here (for follow/navigate), oldest first, this one last */
  chain: string[];
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** form fields, sent as application/x-www-form-urlencoded */
  form?: Record<string, string>;
  /**
   * URL of the page that makes the request: drives Origin, Sec-Fetch-Site and SameSite.
   * Undefined = typed into the address bar. For POST, defaults to the target's own origin.
   */
  initiator?: string;
  /** false: send neither Origin nor Sec-Fetch-* (an old or non-browser client) */
  fetchMetadata?: boolean;
  /** internal: the earlier hops of a redirect chain */
  chain?: string[];
}

export interface HtmlForm {
  action: string;
  method: string;
  fields: Record<string, string>;
}

const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, code: string) => {
    const lower = code.toLowerCase();
    if (lower === 'amp') return '&';
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    return String.fromCodePoint(lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10));
  });
}

function attr(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (!match) return undefined;
  return decodeEntities(match[1] ?? match[2] ?? match[3] ?? '');
}

/** The forms of an HTML page with their hidden/text inputs (enough for the IdP and gateway pages). */
export function parseForms(html: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const tag = match[1] ?? '';
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input[0], 'name');
      const type = (attr(input[0], 'type') ?? 'text').toLowerCase();
      if (name && type !== 'submit' && type !== 'button') fields[name] = attr(input[0], 'value') ?? '';
    }
    forms.push({
      action: new URL(attr(tag, 'action') ?? pageUrl, pageUrl).href,
      method: (attr(tag, 'method') ?? 'GET').toUpperCase(),
      fields,
    });
  }
  return forms;
}

export class BrowserClient {
  readonly jar: CookieJar;
  userAgent: string;

  constructor(options: { userAgent?: string; jar?: CookieJar } = {}) {
    this.jar = options.jar ?? new CookieJar();
    this.userAgent = options.userAgent ?? 'portcullis-test-browser/1.0';
  }

  /** One request, no redirects followed. */
  async request(url: string, options: RequestOptions = {}): Promise<BrowserResponse> {
    const target = new URL(url);
    const method = (options.method ?? (options.form ? 'POST' : 'GET')).toUpperCase();
    const chain = [...(options.chain ?? []), target.href];
    const initiator = options.initiator ?? (method === 'GET' || method === 'HEAD' ? undefined : target.origin);
    const crossSite = [initiator, ...chain.slice(0, -1)]
      .filter((u): u is string => u !== undefined)
      .some((u) => siteOf(new URL(u)) !== siteOf(target));
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: HTML_ACCEPT };
    if (options.fetchMetadata !== false) {
      headers['sec-fetch-mode'] = 'navigate';
      headers['sec-fetch-site'] = !initiator
        ? chain.length > 1 && crossSite ? 'cross-site' : 'none'
        : new URL(initiator).origin === target.origin && !crossSite
          ? 'same-origin'
          : crossSite
            ? 'cross-site'
            : 'same-site';
      if (method !== 'GET' && method !== 'HEAD') {
        headers.origin = initiator && chain.length === 1 ? new URL(initiator).origin : 'null';
      }
    }
    const cookie = this.jar.header({ url: target, method, crossSite });
    if (cookie) headers.cookie = cookie;
    let body = options.body;
    if (options.form) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    Object.assign(headers, Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])));
    const response = await fetch(target, { method, headers, body, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const header of setCookies) this.jar.set(target, header);
    const text = await response.text();
    const location = response.headers.get('location');
    return {
      url: target.href,
      status: response.status,
      headers: response.headers,
      body: text,
      setCookies,
      location: location === null ? undefined : new URL(location, target).href,
      chain,
    };
  }

  get(url: string, options: Omit<RequestOptions, 'method' | 'body' | 'form'> = {}): Promise<BrowserResponse> {
    return this.request(url, { ...options, method: 'GET' });
  }

  post(url: string, form: Record<string, string>, options: Omit<RequestOptions, 'method' | 'form'> = {}): Promise<BrowserResponse> {
    return this.request(url, { ...options, method: 'POST', form });
  }

  /** Follows redirects like a browser (303/301/302 → GET); throws after `maxHops` (a loop). */
  async follow(response: BrowserResponse, maxHops = 10, options: Omit<RequestOptions, 'chain'> = {}): Promise<BrowserResponse> {
    let current = response;
    let method = options.method ?? 'GET';
    let body = options.body;
    let hops = 0;
    while (current.status >= 300 && current.status < 400 && current.location) {
      if (++hops > maxHops) throw new Error(`more than ${maxHops} redirects: ${current.chain.join(' → ')}`);
      if (current.status !== 307 && current.status !== 308) {
        method = 'GET';
        body = undefined;
      }
      current = await this.request(current.location, {
        ...options,
        method,
        body,
        form: undefined,
        chain: current.chain,
      });
    }
    return current;
  }

  /** GET `url` and follow its redirects. */
  async navigate(url: string, maxHops = 10, options: Omit<RequestOptions, 'method' | 'body' | 'form'> = {}): Promise<BrowserResponse> {
    return this.follow(await this.get(url, options), maxHops, options);
  }

  /** Submits the first form of `page` (or the one whose action contains `match`), adding `fields`. */
  async submit(page: BrowserResponse, fields: Record<string, string> = {}, match?: string): Promise<BrowserResponse> {
    const forms = parseForms(page.body, page.url);
    const form = match === undefined ? forms[0] : forms.find((f) => f.action.includes(match));
    if (!form) throw new Error(`no form on ${page.url} (status ${page.status}): ${page.body.slice(0, 300)}`);
    const data = { ...form.fields, ...fields };
    if (form.method === 'GET') {
      const url = new URL(form.action);
      for (const [k, v] of Object.entries(data)) url.searchParams.set(k, v);
      return this.request(url.href, { method: 'GET', initiator: page.url });
    }
    return this.request(form.action, { method: form.method, form: data, initiator: page.url });
  }

  /**
   * Signs in through the gateway: GET `startUrl` → the IdP's devInteractions sign-in form
   * (any username) → consent if shown → the gateway's callback → back where we started.
   * Returns the final response (the app page, or whatever the gateway answered).
   */
  async login(startUrl: string, username: string, maxHops = 12): Promise<BrowserResponse> {
    let page = await this.navigate(startUrl, maxHops);
    for (let step = 0; step < 4; step++) {
      const forms = parseForms(page.body, page.url);
      const login = forms.find((f) => f.fields.prompt === 'login');
      const consent = forms.find((f) => f.fields.prompt === 'consent');
      if (login) {
        page = await this.follow(
          await this.request(login.action, {
            method: 'POST',
            form: { ...login.fields, login: username, password: 'any' },
            initiator: page.url,
          }),
          maxHops,
        );
      } else if (consent) {
        page = await this.follow(
          await this.request(consent.action, { method: 'POST', form: consent.fields, initiator: page.url }),
          maxHops,
        );
      } else {
        return page;
      }
    }
    return page;
  }

  /** Value of a stored cookie by name (first match). */
  cookie(name: string): string | undefined {
    return this.jar.all(name)[0]?.value;
  }
}
