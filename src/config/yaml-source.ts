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
      const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      issues.push({ path: label, message: `YAML syntax error at line ${where.line}, column ${where.col}: ${message}` });
    }
    return undefined;
  }
  if (doc.contents === null) {
    issues.push({ path: label, message: 'the file is empty' });
    return undefined;
  }
  return doc.toJS({ maxAliasCount: 100 });
}
