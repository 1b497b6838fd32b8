import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from '../errors.js';

/**
 * Parses one YAML document into plain data. Syntax errors become issues with a line and column
 * but without the source excerpt the yaml package would print (that line may hold a secret).
 * Returns undefined when the text is not usable.
 */
export function parseYaml(text: string, label: string, issues: ConfigIssue[]): unknown {
  const lineCounter = new LineCounter();
  // uniqueKeys (default) makes a repeated key an error instead of a silent override
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const where = lineCounter.linePos(error.pos[0]);
      // the composer appends the offending token's source (`: "<the line's value>"`), which may be a secret
      const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/: ".*$/, '');
      issues.push({ path: label, message: `YAML syntax error at line ${where.line}, column ${where.col}: ${message}` });
    }
    return undefined;
  }
  if (doc.contents === null) {
    issues.push({ path: label, message: 'the file is empty' });
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // the yaml package finds these only while building the data, not while parsing
    issues.push({ path: label, message: `YAML syntax error: ${aliasProblem(error)}` });
    return undefined;
  }
}

function aliasProblem(error: unknown): string {
  if (error instanceof ReferenceError) return 'an alias (*name) has no anchor (&name) before it';
  const message = error instanceof Error ? error.message : '';
  if (/alias/i.test(message)) return 'too many aliases (at most 100; a "billion laughs" document?)';
  return 'the document cannot be read';
}
