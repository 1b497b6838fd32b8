import { eventually } from './eventually.js';
import { signIn } from './replicas.js';
import type { Stack } from './stack.js';
import { closeFrameIn, openWebSocket, type RawWebSocket } from './websocket.js';

/** A Server-Sent Events response read as a browser's EventSource would, until it ends. */
export interface OpenEvents {
  /** 'end' when the stream ended cleanly, 'error' when it broke off */
  ended: Promise<'end' | 'error'>;
  text(): string;
  abort(): void;
}

export async function openEvents(url: string, cookie: string): Promise<OpenEvents> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { cookie: `_portcullis=${cookie}`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`expected an event stream, got ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const ended = (async (): Promise<'end' | 'error'> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'end';
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      return 'error';
    }
  })();
  await eventually(() => text.includes('data: hello'));
  return { ended, text: () => text, abort: () => controller.abort() };
}

/** A WebSocket through the gateway with a session cookie, and whether it has closed yet. */
export interface SessionSocket extends RawWebSocket {
  isClosed(): boolean;
  /** the Close frame the gateway sent, once it did */
  closeFrame(): { code: number; reason: string } | undefined;
}

export async function openSessionSocket(url: string, cookie: string): Promise<SessionSocket> {
  const ws = await openWebSocket(url, { cookie: `_portcullis=${cookie}` });
  let closed = false;
  void ws.closed.then(() => (closed = true));
  return { ...ws, isClosed: () => closed, closeFrame: () => closeFrameIn(ws.received()) };
}

/** JSON log lines written to a stack's logDestination. */
export function logCapture() {
  const lines: Array<Record<string, unknown>> = [];
  return {
    destination: {
      write(chunk: string) {
        for (const line of chunk.split('\n')) {
          if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      },
    },
    lines,
    /** audit lines about one session ("session started" / "session ended") */
    audit(session: string, msg?: string) {
      return lines.filter((l) => l['part'] === 'audit' && l['session'] === session && (msg === undefined || l['msg'] === msg));
    },
    /** the public id of the session a user started last */
    async sessionOf(user: string): Promise<string> {
      const started = await eventually(() => lines.filter((l) => l['msg'] === 'session started' && l['user'] === user).at(-1));
      return started!['session'] as string;
    },
  };
}

/**
 * `user` signs in on the first replica, then holds a WebSocket open through it and an SSE stream
 * through the second, both on that session; `logs` (the stack's capture) names the session.
 */
export async function openAcrossReplicas(stack: Stack, logs: ReturnType<typeof logCapture>, user: string) {
  const [a, b] = stack.replicas;
  const cookie = await signIn(stack, a!.url, user);
  const ws = await openSessionSocket(`${a!.url}/ws`, cookie);
  const sse = await openEvents(`${b!.url}/events?__sse=1`, cookie);
  return { cookie, ws, sse, session: await logs.sessionOf(user) };
}
