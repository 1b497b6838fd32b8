import t from 'tap';
import { attempt, baseConfig } from './helpers.js';

/** server.public_url is an origin: the gateway's endpoints live at /.portcullis/ on that host. */

function issuesFor(publicUrl: string): string[] {
  const raw = baseConfig();
  raw.server.public_url = publicUrl;
  return attempt(raw).issues;
}

t.test('origins are accepted, with or without the trailing slash', async (t) => {
  for (const value of ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/', 'https://corp.example', 'https://corp.example:8443/', 'http://[::1]:8080']) {
    t.strictSame(issuesFor(value), [], value);
  }
});

t.test('a path, query, fragment or user info is refused with what to use instead', async (t) => {
  const cases: Array<[value: string, expected: string[]]> = [
    [
      'https://corp.example/auth',
      ['server.public_url: a path ("/auth") is not supported: the gateway\'s endpoints live at /.portcullis/ on the host itself; use "https://corp.example" (route paths go in routes[].from)'],
    ],
    ['https://corp.example/auth/', ['server.public_url: a path ("/auth/") is not supported: the gateway\'s endpoints live at /.portcullis/ on the host itself; use "https://corp.example" (route paths go in routes[].from)']],
    ['https://corp.example//', ['server.public_url: a path ("//") is not supported: the gateway\'s endpoints live at /.portcullis/ on the host itself; use "https://corp.example" (route paths go in routes[].from)']],
    ['https://corp.example/?x=1', ['server.public_url: must not have a query; use "https://corp.example"']],
    ['https://corp.example?', ['server.public_url: must not have a query; use "https://corp.example"']],
    ['https://corp.example/#top', ['server.public_url: must not have a fragment; use "https://corp.example"']],
    ['https://corp.example#', ['server.public_url: must not have a fragment; use "https://corp.example"']],
    ['https://user:pw@corp.example', ['server.public_url: must not contain a user name or password']],
    ['https://@corp.example', ['server.public_url: must not contain a user name or password']],
    [
      'https://u@corp.example/auth?x#y',
      [
        'server.public_url: a path ("/auth") is not supported: the gateway\'s endpoints live at /.portcullis/ on the host itself; use "https://corp.example" (route paths go in routes[].from)',
        'server.public_url: must not have a query; use "https://corp.example"',
        'server.public_url: must not have a fragment; use "https://corp.example"',
        'server.public_url: must not contain a user name or password',
      ],
    ],
    ['ftp://corp.example', ['server.public_url: must be an http(s) URL']],
    ['corp.example', ['server.public_url: must be an http(s) URL']],
  ];
  for (const [value, expected] of cases) t.strictSame(issuesFor(value), expected, value);
});

t.test('a password in public_url is never echoed', async (t) => {
  const issues = issuesFor('https://admin:hunter2-secret@corp.example/x');
  t.ok(issues.length > 0);
  for (const issue of issues) t.notMatch(issue, /hunter2/);
});
